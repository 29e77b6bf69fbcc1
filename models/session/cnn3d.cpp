#include "reckon/models/session/cnn3d.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>
#include <chrono>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>

#include "reckon/kernels/dense/dense.h"
#include "reckon/models/layers/conv.h"
#include "reckon/models/layers/layers.h"
#include "reckon/runtime/checkpoint.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"

namespace reckon::session {

CatalogContent catalog_content(const ClickLog& log, const Catalog& catalog, const ItemContent* extra) {
  CatalogContent c;
  c.categories.resize(static_cast<std::size_t>(catalog.size()));
  c.texts.resize(c.categories.size());
  for (std::size_t i = 0; i < log.item_names.size(); ++i) {
    const std::int32_t at = catalog.lookup(log.item_names[i]);
    if (at < 0) continue;
    if (i < log.item_categories.size()) c.categories[static_cast<std::size_t>(at)] = log.item_categories[i];
    if (i < log.item_texts.size()) c.texts[static_cast<std::size_t>(at)] = log.item_texts[i];
  }
  for (std::size_t i = 0; extra != nullptr && i < catalog.names.size(); ++i) {
    if (const auto it = extra->category.find(catalog.names[i]); it != extra->category.end()) c.categories[i] = it->second;
    if (const auto it = extra->text.find(catalog.names[i]); it != extra->text.end()) c.texts[i] = it->second;
  }
  return c;
}

std::int64_t add_content_items(TrainingSessions& training, const ItemContent& content) {
  std::set<std::string> joining;
  for (const auto* field : {&content.category, &content.text}) {
    for (const auto& [name, value] : *field) {
      if (training.catalog.lookup(name) < 0) joining.insert(name);
    }
  }
  if (joining.empty()) return 0;
  std::vector<std::string> names = training.catalog.names;
  std::vector<std::int64_t> counts = training.catalog.counts;
  names.insert(names.end(), joining.begin(), joining.end());
  counts.resize(names.size(), 0);
  training.catalog = Catalog::from_names(std::move(names), std::move(counts));
  return static_cast<std::int64_t>(joining.size());
}

namespace {

// The lower-cased words of `text`: runs of ASCII letters and digits and of non-ASCII bytes.
void words_of(const std::string& text, std::set<std::string>& out) {
  std::string word;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || u >= 0x80) {
      word.push_back(static_cast<char>(std::tolower(u)));
    } else if (!word.empty()) {
      out.insert(word);
      word.clear();
    }
  }
  if (!word.empty()) out.insert(word);
}

}  // namespace

ItemFeatures content_features(const CatalogContent& content, std::int64_t min_items) {
  const std::size_t n = content.categories.size();
  std::vector<std::set<std::string>> words(n);
  std::map<std::string, std::int64_t> items_with;
  for (std::size_t i = 0; i < n; ++i) {
    std::set<std::string> category, text;
    words_of(content.categories[i], category);
    words_of(content.texts[i], text);
    for (const std::string& w : category) words[i].insert("c:" + w);
    for (const std::string& w : text) words[i].insert("t:" + w);
    for (const std::string& w : words[i]) ++items_with[w];
  }
  std::map<std::string, std::int32_t> id;
  for (const auto& [word, count] : items_with) {
    if (count >= min_items) id.emplace(word, static_cast<std::int32_t>(id.size()));
  }
  ItemFeatures f;
  if (id.empty()) return f;
  f.vocabulary = static_cast<std::int64_t>(id.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (const std::string& w : words[i]) {
      if (const auto it = id.find(w); it != id.end()) f.features.push_back(it->second);
    }
    f.offsets.push_back(static_cast<std::int32_t>(f.features.size()));
  }
  return f;
}

namespace {

TensorView shaped(const Tensor& t, std::initializer_list<std::int64_t> sizes) {
  return TensorView::contiguous(t.view().data, t.dtype(), t.device(), sizes);
}

// Every catalogue item's L positions as symbols (-1: padding): its id token (symbol alphabet + item) when asked
// for, then the characters of its id (the last id_chars: the distinctive end of a numeric id), category and text
// (the first ones). Character symbol 0 is a byte the catalogue never used; the others are the bytes it used, in
// byte order.
struct Encoded {
  std::vector<std::int32_t> codes;
  std::int32_t alphabet = 1;
};

// Field f's characters of item i that the encoding keeps: [first, first + count).
struct Window {
  std::size_t first, count;
};

Encoded encode_items(const Catalog& catalog, const CatalogContent& content, const Cnn3dOptions& o) {
  const std::array<std::int64_t, 3> widths{o.id_chars, o.category_chars, o.text_chars};
  const auto field = [&](std::size_t item, int f) -> const std::string& {
    return f == 0 ? catalog.names[item] : f == 1 ? content.categories[item] : content.texts[item];
  };
  const auto window = [&](const std::string& s, int f) {
    const auto width = static_cast<std::size_t>(widths[static_cast<std::size_t>(f)]);
    const std::size_t count = std::min(width, s.size());
    return Window{f == 0 ? s.size() - count : 0, count};
  };
  std::array<std::int32_t, 256> symbol{};
  for (std::size_t i = 0; i < catalog.names.size(); ++i) {
    for (int f = 0; f < 3; ++f) {
      const std::string& s = field(i, f);
      const Window w = window(s, f);
      for (std::size_t c = 0; c < w.count; ++c) symbol[static_cast<unsigned char>(s[w.first + c])] = 1;
    }
  }
  Encoded e;
  for (std::int32_t& s : symbol) s = s != 0 ? e.alphabet++ : 0;
  const std::int64_t L = o.positions();
  e.codes.assign(catalog.names.size() * static_cast<std::size_t>(L), -1);
  for (std::size_t i = 0; i < catalog.names.size(); ++i) {
    std::int32_t* row = e.codes.data() + i * static_cast<std::size_t>(L);
    if (o.id_token) *row++ = e.alphabet + static_cast<std::int32_t>(i);
    for (int f = 0; f < 3; ++f) {
      const std::string& s = field(i, f);
      const Window w = window(s, f);
      for (std::size_t c = 0; c < w.count; ++c) row[c] = symbol[static_cast<unsigned char>(s[w.first + c])];
      row += widths[static_cast<std::size_t>(f)];
    }
  }
  return e;
}

// A batch's inputs on the host: each row's prefix (at most S catalogue ids, oldest first) as character bags.
struct BatchInput {
  std::int64_t rows = 0, depth = 0;
  std::vector<std::int32_t> offsets, ids, lengths;
  std::vector<std::int32_t> last_offsets, last_ids;  // each row's last click as a bag (empty for an empty prefix)
};

void build_input(std::span<const std::span<const std::int32_t>> prefixes, const std::vector<std::int32_t>& codes,
                 std::int64_t L, bool masked, BatchInput& in) {
  in.rows = static_cast<std::int64_t>(prefixes.size());
  in.depth = 1;
  for (const auto& p : prefixes) in.depth = std::max<std::int64_t>(in.depth, static_cast<std::int64_t>(p.size()));
  in.offsets.assign(1, 0);
  in.ids.clear();
  in.lengths.clear();
  in.last_offsets.assign(1, 0);
  in.last_ids.clear();
  for (const auto& p : prefixes) {
    if (!p.empty()) in.last_ids.push_back(p.back());
    in.last_offsets.push_back(static_cast<std::int32_t>(in.last_ids.size()));
    for (std::int64_t d = 0; d < in.depth; ++d) {
      const std::int32_t* row = d < static_cast<std::int64_t>(p.size())
                                    ? codes.data() + static_cast<std::size_t>(p[static_cast<std::size_t>(d)]) * static_cast<std::size_t>(L)
                                    : nullptr;
      for (std::int64_t l = 0; l < L; ++l) {
        if (row != nullptr && row[l] >= 0) in.ids.push_back(row[l]);
        in.offsets.push_back(static_cast<std::int32_t>(in.ids.size()));
      }
    }
    // The second layer's positions that see a click (unmasked: every position of the batch's volume).
    in.lengths.push_back(static_cast<std::int32_t>(masked ? static_cast<std::int64_t>(p.size()) : in.depth) + 2);
  }
}

// The activations of up to `capacity` rows at depth S, and with training their gradients; a batch of depth D uses
// the first elements of each.
struct Activations {
  std::int64_t capacity = 0;
  Tensor offsets, ids, lengths, volume, y1, p1, arg1, y2, pooled, arg2, h;
  Tensor last_offsets, last_ids, last;
  Tensor cart_logits, cart_labels, dcart;  // the add-to-cart head's [B, 1]
  Tensor dvolume, dy1, dp1, dy2, dpooled, dh;

  Activations(Context& ctx, std::int64_t B, const Cnn3dOptions& o, std::int64_t L1, std::int64_t ids_capacity,
              bool training)
      : capacity(B) {
    const std::int64_t S = o.clicks, L = o.positions(), E = o.char_embedding, F = o.filters;
    offsets = Tensor::empty(ctx, DType::kI32, {B * S * L + 1});
    ids = Tensor::empty(ctx, DType::kI32, {std::max<std::int64_t>(1, ids_capacity)});
    lengths = Tensor::empty(ctx, DType::kI32, {B});
    last_offsets = Tensor::empty(ctx, DType::kI32, {B + 1});
    last_ids = Tensor::empty(ctx, DType::kI32, {B});
    last = Tensor::empty(ctx, DType::kF32, {B, o.hidden});
    volume = Tensor::empty(ctx, DType::kF32, {B * S * L * E});
    y1 = Tensor::empty(ctx, DType::kF32, {B * F * (S + 1) * L});
    p1 = Tensor::empty(ctx, DType::kF32, {B * F * (S + 1) * L1});
    arg1 = Tensor::empty(ctx, DType::kI32, {B * F * (S + 1) * L1});
    y2 = Tensor::empty(ctx, DType::kF32, {B * 2 * F * (S + 2) * L1});
    pooled = Tensor::empty(ctx, DType::kF32, {B, 2 * F});
    arg2 = Tensor::empty(ctx, DType::kI32, {B, 2 * F});
    h = Tensor::empty(ctx, DType::kF32, {B, o.hidden});
    if (o.cart_head) cart_logits = Tensor::empty(ctx, DType::kF32, {B, 1});
    if (!training) return;
    if (o.cart_head) {
      cart_labels = Tensor::empty(ctx, DType::kF32, {B, 1});
      dcart = Tensor::empty(ctx, DType::kF32, {B, 1});
    }
    dvolume = Tensor::empty(ctx, DType::kF32, {B * S * L * E});
    dy1 = Tensor::empty(ctx, DType::kF32, {B * F * (S + 1) * L});
    dp1 = Tensor::empty(ctx, DType::kF32, {B * F * (S + 1) * L1});
    dy2 = Tensor::empty(ctx, DType::kF32, {B * 2 * F * (S + 2) * L1});
    dpooled = Tensor::empty(ctx, DType::kF32, {B, 2 * F});
    dh = Tensor::empty(ctx, DType::kF32, {B, o.hidden});
  }
};

}  // namespace

struct Cnn3dRecommender::Impl {
  Context& ctx;
  Cnn3dOptions o;
  std::int64_t N, L, L1, F;
  std::vector<std::int32_t> codes;
  std::int32_t alphabet;
  ItemFeatures features;  // the output layer's content features
  layers::ParameterGroup group;
  std::unique_ptr<layers::FieldEmbedding> chars;
  std::vector<float> one_hot_rows;  // with one_hot_chars: the character rows' span, the identity (state zero)
  std::unique_ptr<layers::Conv3d> conv1, conv2;
  layers::Pool3d pool1;
  layers::GlobalPool global{PoolMode::kMax, ConvLayout::kNdhwc};
  std::unique_ptr<layers::Linear> dense;
  std::unique_ptr<layers::FieldEmbedding> last_items;  // the last click's own vector, added to the state
  layers::Dropout dropout;
  std::unique_ptr<ItemOutput> output;
  std::unique_ptr<layers::Linear> cart;  // the add-to-cart head
  std::unique_ptr<Activations> train, eval;
  BatchInput input;
  std::mutex eval_mutex;


  Impl(Context& c, const Cnn3dOptions& options, const Catalog& catalog, std::vector<std::int32_t> item_codes,
       std::int32_t alphabet_size, ItemFeatures item_features);

  // The batch's volumes through the network into a.h (rows of `input`); dropout when training.
  void forward(Activations& a, bool training);
  // With the add-to-cart head, its labels and loss sum beside the item output's targets and losses.
  void backward(Activations& a, std::span<const std::int32_t> targets, const TensorView& losses,
                std::span<const float> cart_labels, const TensorView& cart_loss);
  // The add-to-cart head's step on a.h: its loss sum into cart_loss, its gradient added to a.dh.
  void cart_step(Activations& a, std::span<const float> labels, const TensorView& cart_loss);
  void upload(Activations& a);
  void reset_one_hot_rows();
  // A channels-last volume [rows, depth, length, 1, channels] of the batch.
  TensorView volume(const Tensor& t, std::int64_t depth, std::int64_t length, std::int64_t channels) const {
    return shaped(t, {input.rows, depth, length, 1, channels});
  }
  std::vector<layers::NamedTensor> tensors(bool with_state) const;
};

Cnn3dRecommender::Impl::Impl(Context& c, const Cnn3dOptions& options, const Catalog& catalog,
                             std::vector<std::int32_t> item_codes, std::int32_t alphabet_size,
                             ItemFeatures item_features)
    : ctx(c), o(options), N(catalog.size()), L(options.positions()), L1(options.positions() / 4),
      F(options.filters), codes(std::move(item_codes)), alphabet(alphabet_size), features(std::move(item_features)),
      pool1(Pool3dOptions{PoolMode::kMax, {1, 4, 1}, {1, 4, 1}, {0, 0, 0}, true, ConvLayout::kNdhwc}),
      dropout(options.dropout, 0) {
  Optimizer opt;
  opt.kind = o.optimizer;
  opt.learning_rate = o.learning_rate;
  group = layers::ParameterGroup(ctx, opt, 1);
  const OptimizerKind sparse = o.optimizer == OptimizerKind::kAdagrad ? OptimizerKind::kRowwiseAdagrad : o.optimizer;
  const std::uint64_t char_stream = ctx.next_rng_stream();
  const std::int64_t symbols = alphabet + (o.id_token ? N : 0);  // the characters, then one id token per item
  chars = std::make_unique<layers::FieldEmbedding>(ctx, "chars", std::vector<std::int64_t>{symbols}, o.char_embedding,
                                                   sparse, 0.1f, std::span<const std::uint64_t>(&char_stream, 1));
  Conv3dOptions conv;
  conv.pad = {1, 1, 0};
  conv.activation = Activation::kRelu;
  conv.layout = ConvLayout::kNdhwc;
  const auto streams = [&] { return std::array<std::uint64_t, 2>{ctx.next_rng_stream(), ctx.next_rng_stream()}; };
  auto s1 = streams();
  // No bias in the first layer: a window of padding (a prefix shorter than the batch's depth) then gives zero, as
  // the convolution's own zero padding does, so a query's scores do not depend on the batch it is scored in.
  conv1 = std::make_unique<layers::Conv3d>(ctx, "conv1", o.char_embedding, F, std::array<std::int64_t, 3>{2, 3, 1}, conv,
                                           s1[0], s1[1], false);
  auto s2 = streams();
  conv2 = std::make_unique<layers::Conv3d>(ctx, "conv2", F, 2 * F, std::array<std::int64_t, 3>{2, 3, 1}, conv, s2[0], s2[1]);
  auto s3 = streams();
  // Linear: a ReLU here lets the state die whole (every score equal, BPR-max stuck at log 2) at higher rates.
  dense = std::make_unique<layers::Linear>(ctx, "dense", 2 * F, o.hidden, Activation::kNone, s3[0], s3[1]);
  if (o.last_click) {
    const std::uint64_t last_stream = ctx.next_rng_stream();
    last_items = std::make_unique<layers::FieldEmbedding>(
        ctx, "last_items", std::vector<std::int64_t>{N}, o.hidden, sparse,
        static_cast<float>(std::sqrt(2.0 / static_cast<double>(N + o.hidden))), std::span<const std::uint64_t>(&last_stream, 1));
  }
  output = std::make_unique<ItemOutput>(ctx, catalog, o.hidden, o.batch, o.output, sparse, o.seed, features);
  if (o.cart_head) {
    auto s4 = streams();
    cart = std::make_unique<layers::Linear>(ctx, "cart", o.hidden, 1, Activation::kNone, s4[0], s4[1]);
  }
  if (o.one_hot_chars) reset_one_hot_rows();
}

std::vector<layers::NamedTensor> Cnn3dRecommender::Impl::tensors(bool with_state) const {
  std::vector<layers::NamedTensor> out;
  for (const bool state : {false, true}) {
    if (state && !with_state) break;
    state ? chars->append_optimizer_state(out) : chars->append_parameters(out);
    for (const auto* c : {conv1.get(), conv2.get()}) state ? c->append_optimizer_state(out) : c->append_parameters(out);
    state ? dense->append_optimizer_state(out) : dense->append_parameters(out);
    if (last_items) state ? last_items->append_optimizer_state(out) : last_items->append_parameters(out);
    state ? output->append_optimizer_state(out) : output->append_parameters(out);
    if (cart) state ? cart->append_optimizer_state(out) : cart->append_parameters(out);
  }
  return out;
}

// One-hot characters are the character rows fixed at the identity: rewritten after each step (the id tokens' rows
// after them still learn).
void Cnn3dRecommender::Impl::reset_one_hot_rows() {
  std::vector<layers::NamedTensor> table;
  chars->append_parameters(table);
  const std::int64_t stride = table.front().view.row_stride();
  if (one_hot_rows.empty()) {
    one_hot_rows.assign(static_cast<std::size_t>((alphabet - 1) * stride + o.char_embedding), 0.0f);
    for (std::int64_t r = 0; r < alphabet; ++r) one_hot_rows[static_cast<std::size_t>(r * stride + r)] = 1.0f;
  }
  copy_bytes(ctx, table.front().view.data, ctx.device(), one_hot_rows.data(), Device::cpu(),
             one_hot_rows.size() * sizeof(float));
}

void Cnn3dRecommender::Impl::upload(Activations& a) {
  RECKON_CHECK_ARG(input.rows <= a.capacity, "batch of ", input.rows, " rows over capacity ", a.capacity);
  if (static_cast<std::int64_t>(input.ids.size()) > a.ids.numel()) {
    a.ids = Tensor::empty(ctx, DType::kI32, {static_cast<std::int64_t>(input.ids.size())});
  }
  copy_bytes(ctx, a.offsets.view().data, ctx.device(), input.offsets.data(), Device::cpu(), input.offsets.size() * 4);
  copy_bytes(ctx, a.ids.view().data, ctx.device(), input.ids.data(), Device::cpu(), input.ids.size() * 4);
  copy_bytes(ctx, a.lengths.view().data, ctx.device(), input.lengths.data(), Device::cpu(), input.lengths.size() * 4);
  if (!last_items) return;
  copy_bytes(ctx, a.last_offsets.view().data, ctx.device(), input.last_offsets.data(), Device::cpu(),
             input.last_offsets.size() * 4);
  copy_bytes(ctx, a.last_ids.view().data, ctx.device(), input.last_ids.data(), Device::cpu(), input.last_ids.size() * 4);
}

void Cnn3dRecommender::Impl::forward(Activations& a, bool training) {
  upload(a);
  const std::int64_t R = input.rows, D = input.depth, E = o.char_embedding;
  const std::int64_t bags_count = R * D * L;
  const EmbeddingBags bags{shaped(a.offsets, {bags_count + 1}), shaped(a.ids, {static_cast<std::int64_t>(input.ids.size())})};
  chars->forward(ctx, {&bags, 1}, shaped(a.volume, {bags_count, 1, E}));
  conv1->forward(ctx, volume(a.volume, D, L, E), volume(a.y1, D + 1, L, F));
  pool1.forward(ctx, volume(a.y1, D + 1, L, F), volume(a.p1, D + 1, L1, F), volume(a.arg1, D + 1, L1, F));
  conv2->forward(ctx, volume(a.p1, D + 1, L1, F), volume(a.y2, D + 2, L1, 2 * F));
  global.forward(ctx, volume(a.y2, D + 2, L1, 2 * F), shaped(a.lengths, {R}), shaped(a.pooled, {R, 2 * F}),
                 shaped(a.arg2, {R, 2 * F}));
  dense->forward(ctx, shaped(a.pooled, {R, 2 * F}), shaped(a.h, {R, o.hidden}));
  if (last_items) {
    const EmbeddingBags last{shaped(a.last_offsets, {R + 1}), shaped(a.last_ids, {static_cast<std::int64_t>(input.last_ids.size())})};
    last_items->forward(ctx, {&last, 1}, shaped(a.last, {R, 1, o.hidden}));
    add_inplace(ctx, shaped(a.h, {R, o.hidden}), shaped(a.last, {R, o.hidden}));
  }
  if (training && o.dropout > 0) dropout.forward(ctx, a.h, group.clock());
}

// The output layer's step, then the gradients back through the network to the character embeddings; every layer
// steps in the group.
void Cnn3dRecommender::Impl::cart_step(Activations& a, std::span<const float> labels, const TensorView& cart_loss) {
  const std::int64_t R = input.rows;
  copy_bytes(ctx, a.cart_labels.view().data, ctx.device(), labels.data(), Device::cpu(), labels.size() * sizeof(float));
  const TensorView h = shaped(a.h, {R, o.hidden}), logits = shaped(a.cart_logits, {R, 1});
  cart->forward(ctx, h, logits);
  sigmoid_bce_with_logits(ctx, shaped(a.cart_logits, {R}), shaped(a.cart_labels, {R}), cart_loss,
                          shaped(a.dcart, {R}), o.cart_weight / static_cast<float>(R));
  cart->backward(ctx, h, shaped(a.dcart, {R, 1}), shaped(a.dh, {R, o.hidden}), true);
  cart->update(ctx, group, 0.0f);
}

void Cnn3dRecommender::Impl::backward(Activations& a, std::span<const std::int32_t> targets, const TensorView& losses,
                                      std::span<const float> cart_labels, const TensorView& cart_loss) {
  const std::int64_t R = input.rows, D = input.depth, E = o.char_embedding;
  output->train_step(group, a.h, targets, losses, a.dh);
  if (cart) cart_step(a, cart_labels, cart_loss);
  if (o.dropout > 0) dropout.backward(ctx, a.dh, group.clock());
  if (last_items) {
    const EmbeddingBags last{shaped(a.last_offsets, {R + 1}), shaped(a.last_ids, {static_cast<std::int64_t>(input.last_ids.size())})};
    last_items->backward_update(ctx, {&last, 1}, shaped(a.dh, {R, 1, o.hidden}), group, 0.0f);
  }
  dense->backward(ctx, a.pooled, a.dh, a.dpooled, false);
  global.backward(ctx, a.dpooled, shaped(a.lengths, {R}), a.arg2, volume(a.dy2, D + 2, L1, 2 * F));
  relu_bwd(ctx, shaped(a.y2, {R * (D + 2) * L1, 2 * F}), shaped(a.dy2, {R * (D + 2) * L1, 2 * F}));
  conv2->backward(ctx, volume(a.p1, D + 1, L1, F), volume(a.dy2, D + 2, L1, 2 * F), volume(a.dp1, D + 1, L1, F));
  pool1.backward(ctx, volume(a.dp1, D + 1, L1, F), volume(a.arg1, D + 1, L1, F), volume(a.dy1, D + 1, L, F));
  relu_bwd(ctx, shaped(a.y1, {R * (D + 1) * L, F}), shaped(a.dy1, {R * (D + 1) * L, F}));
  conv1->backward(ctx, volume(a.volume, D, L, E), volume(a.dy1, D + 1, L, F), volume(a.dvolume, D, L, E));
  const std::int64_t bags_count = R * D * L;
  const EmbeddingBags bags{shaped(a.offsets, {bags_count + 1}), shaped(a.ids, {static_cast<std::int64_t>(input.ids.size())})};
  chars->backward_update(ctx, {&bags, 1}, shaped(a.dvolume, {bags_count, 1, E}), group, 0.0f);
  if (o.one_hot_chars) reset_one_hot_rows();
  conv1->update(ctx, group, 0.0f);
  conv2->update(ctx, group, 0.0f);
  dense->update(ctx, group, 0.0f);
}

namespace {

void check_options(const Cnn3dOptions& o) {
  RECKON_CHECK_ARG(o.clicks >= 1 && o.id_chars >= 0 && o.category_chars >= 0 && o.text_chars >= 0 &&
                       o.positions() >= 4 && o.char_embedding >= 1 && o.filters >= 1 && o.hidden >= 1 &&
                       o.batch >= 1 && o.epochs >= 0,
                   "the 3D CNN needs clicks >= 1, at least 4 characters in all, char_embedding, filters, hidden and "
                   "batch >= 1, epochs >= 0");
  RECKON_CHECK_ARG(o.dropout >= 0 && o.dropout < 1, "dropout must be in [0, 1), got ", o.dropout);
  RECKON_CHECK_ARG(o.learning_rate > 0, "the learning rate must be positive, got ", o.learning_rate);
  RECKON_CHECK_ARG(o.cart_weight >= 0 && std::isfinite(o.cart_weight), "cart_weight must be >= 0, got ", o.cart_weight);
}

}  // namespace

Cnn3dRecommender::Cnn3dRecommender(Context& ctx, const Cnn3dOptions& options, TrainingSessions training,
                                   const CatalogContent& content)
    : NeuralRecommender(RecommenderOptions{}, std::move(training)), cnn_options_(options) {
  check_options(options);
  RECKON_CHECK_ARG(static_cast<std::int32_t>(content.categories.size()) == this->training().catalog.size() &&
                       content.texts.size() == content.categories.size(),
                   "the content must have a category and a text (maybe empty) per catalogue item");
  Encoded e = encode_items(this->training().catalog, content, options);
  if (options.one_hot_chars) cnn_options_.char_embedding = e.alphabet;  // one column per symbol
  cnn_options_.cart_head = options.cart_weight > 0 && this->training().has_conversions();
  ctx.set_seed(options.seed);
  impl_ = std::make_unique<Impl>(ctx, cnn_options_, this->training().catalog, std::move(e.codes), e.alphabet,
                                 options.content_output && options.output.loss == ItemLoss::kBprMax
                                     ? content_features(content)
                                     : ItemFeatures{});
}

Cnn3dRecommender::Cnn3dRecommender(Context& ctx, const Cnn3dOptions& options, TrainingSessions training,
                                   std::vector<std::int32_t> codes, std::int32_t alphabet, ItemFeatures features)
    : NeuralRecommender(RecommenderOptions{}, std::move(training)), cnn_options_(options) {
  check_options(options);
  ctx.set_seed(options.seed);
  impl_ = std::make_unique<Impl>(ctx, options, this->training().catalog, std::move(codes), alphabet,
                                 std::move(features));
}

Cnn3dRecommender::~Cnn3dRecommender() = default;

std::int32_t Cnn3dRecommender::alphabet_size() const { return impl_->alphabet; }

namespace {

// A training sample: the click at `position` of `session` is the target of the clicks before it.
struct Sample {
  std::int32_t session, position;
};

// Every sample, shuffled by the epoch's Philox stream, then cut into runs of 32 batches each sorted by prefix length
// (so a batch's volume is barely padded); the batches keep the shuffled order of their runs.
std::vector<Sample> epoch_order(const TrainingSessions& t, std::int64_t S, std::int64_t batch, std::uint64_t seed,
                                std::uint64_t stream) {
  std::vector<Sample> samples;
  for (std::int64_t s = 0; s < t.size(); ++s) {
    for (std::size_t p = 1; p < t.session(s).size(); ++p) {
      samples.push_back({static_cast<std::int32_t>(s), static_cast<std::int32_t>(p)});
    }
  }
  PhiloxStream rng(seed, stream);
  for (std::size_t i = samples.size(); i > 1; --i) {
    std::swap(samples[i - 1], samples[uniform_below(rng.next_u32(), static_cast<std::uint32_t>(i))]);
  }
  const auto run = static_cast<std::size_t>(32 * batch);
  for (std::size_t at = 0; at < samples.size(); at += run) {
    const auto end = samples.begin() + static_cast<std::ptrdiff_t>(std::min(samples.size(), at + run));
    std::stable_sort(samples.begin() + static_cast<std::ptrdiff_t>(at), end, [&](const Sample& a, const Sample& b) {
      return std::min<std::int64_t>(a.position, S) < std::min<std::int64_t>(b.position, S);
    });
  }
  return samples;
}

}  // namespace

std::vector<layers::NamedTensor> Cnn3dRecommender::state() const { return impl_->tensors(true); }

Context& Cnn3dRecommender::context() const { return impl_->ctx; }

EpochStats Cnn3dRecommender::train_epoch(int epoch, const EpochProgress& progress) {
  Impl& m = *impl_;
  Context& ctx = m.ctx;
  const std::int64_t B = cnn_options_.batch, S = cnn_options_.clicks;
  if (!m.train) m.train = std::make_unique<Activations>(ctx, B, cnn_options_, m.L1, B * S * m.L, true);
  Activations& a = *m.train;
  const std::vector<Sample> order = epoch_order(training(), S, B, cnn_options_.seed, ctx.next_rng_stream());
  const std::int64_t steps = static_cast<std::int64_t>(order.size()) / B;  // the last partial batch waits a shuffle
  EpochLosses losses(ctx, B, "the 3D CNN", epoch), cart_losses(ctx, 1, "the 3D CNN's add-to-cart head", epoch);
  std::vector<std::span<const std::int32_t>> prefixes(static_cast<std::size_t>(B));
  std::vector<std::int32_t> targets(static_cast<std::size_t>(B));
  std::vector<float> cart_labels(static_cast<std::size_t>(B));
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t step = 0; step < steps; ++step) {
    for (std::int64_t r = 0; r < B; ++r) {
      const Sample& s = order[static_cast<std::size_t>(step * B + r)];
      const std::span<const std::int32_t> session = training().session(s.session);
      const std::int64_t from = std::max<std::int64_t>(0, s.position - S);
      prefixes[static_cast<std::size_t>(r)] = session.subspan(static_cast<std::size_t>(from), static_cast<std::size_t>(s.position - from));
      targets[static_cast<std::size_t>(r)] = session[static_cast<std::size_t>(s.position)];
      cart_labels[static_cast<std::size_t>(r)] = training().converts_from(s.session, s.position) ? 1.0f : 0.0f;
    }
    build_input(prefixes, m.codes, m.L, cnn_options_.masked_pooling, m.input);
    m.group.advance(ctx);
    m.forward(a, true);
    m.backward(a, targets, losses.next(), cart_labels, m.cart ? cart_losses.next() : TensorView{});
    if (progress && (step + 1) % 64 == 0) {
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      progress(static_cast<double>(step + 1) / static_cast<double>(steps), static_cast<double>((step + 1) * B) / std::max(took, 1e-9));
    }
  }
  const double loss_sum = losses.sum();
  EpochStats stats = epoch_stats(epoch, loss_sum, steps * B, start);
  if (m.cart) stats.cart_loss = cart_losses.sum() / static_cast<double>(std::max<std::int64_t>(1, steps * B));
  return stats;
}

// Chunks of up to 256 queries, each its last S known clicks (unknown items, -1, are left out; a query with none
// reads an empty volume).
void Cnn3dRecommender::run_chunks(std::span<const std::span<const std::int32_t>> prefixes,
                                  const std::function<void(std::int64_t, std::size_t)>& use) const {
  Impl& m = *impl_;
  constexpr std::int64_t kChunk = 256;
  const std::int64_t S = cnn_options_.clicks;
  if (!m.eval) m.eval = std::make_unique<Activations>(m.ctx, kChunk, cnn_options_, m.L1, kChunk * S * m.L, false);
  std::vector<std::vector<std::int32_t>> known;
  std::vector<std::span<const std::int32_t>> rows;
  for (std::size_t at = 0; at < prefixes.size(); at += kChunk) {
    const std::size_t count = std::min<std::size_t>(kChunk, prefixes.size() - at);
    known.assign(count, {});
    rows.assign(count, {});
    for (std::size_t q = 0; q < count; ++q) {
      for (const std::int32_t item : prefixes[at + q]) {
        if (item >= 0) known[q].push_back(item);
      }
      const std::size_t keep = std::min<std::size_t>(known[q].size(), static_cast<std::size_t>(S));
      rows[q] = std::span<const std::int32_t>(known[q]).last(keep);
    }
    build_input(rows, m.codes, m.L, cnn_options_.masked_pooling, m.input);
    m.forward(*m.eval, false);
    use(static_cast<std::int64_t>(count), at);
  }
  m.ctx.synchronize();
}

void Cnn3dRecommender::score_batch(std::span<const std::span<const std::int32_t>> prefixes, float* scores, int) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.eval_mutex);
  const std::int64_t N = m.N;
  Tensor logits = Tensor::empty(m.ctx, DType::kF32, {std::min<std::int64_t>(256, static_cast<std::int64_t>(prefixes.size())), N});
  run_chunks(prefixes, [&](std::int64_t R, std::size_t first) {
    m.output->score(shaped(m.eval->h, {R, m.o.hidden}), shaped(logits, {R, N}));
    copy_bytes(m.ctx, scores + static_cast<std::int64_t>(first) * N, Device::cpu(), logits.view().data, m.ctx.device(),
               static_cast<std::size_t>(R * N) * sizeof(float));
  });
}

void Cnn3dRecommender::cart_probabilities(std::span<const std::span<const std::int32_t>> prefixes,
                                          float* probabilities) const {
  Impl& m = *impl_;
  RECKON_CHECK_ARG(m.cart != nullptr, "this 3D CNN has no add-to-cart head (its training sessions had no cart or "
                   "buy events, or cart_weight was 0)");
  std::lock_guard<std::mutex> lock(m.eval_mutex);
  run_chunks(prefixes, [&](std::int64_t R, std::size_t first) {
    m.cart->forward(m.ctx, shaped(m.eval->h, {R, m.o.hidden}), shaped(m.eval->cart_logits, {R, 1}));
    copy_bytes(m.ctx, probabilities + first, Device::cpu(), m.eval->cart_logits.view().data, m.ctx.device(),
               static_cast<std::size_t>(R) * sizeof(float));
  });
  // run_chunks synchronised: the logits are on the host.
  for (std::size_t q = 0; q < prefixes.size(); ++q) probabilities[q] = 1.0f / (1.0f + std::exp(-probabilities[q]));
}

namespace {

nlohmann::json options_json(const Cnn3dOptions& o) {
  return {{"model", "cnn3d"}, {"clicks", o.clicks}, {"id_token", o.id_token}, {"last_click", o.last_click}, {"content_output", o.content_output},
          {"masked_pooling", o.masked_pooling}, {"one_hot_chars", o.one_hot_chars}, {"cart_weight", o.cart_weight}, {"cart_head", o.cart_head}, {"id_chars", o.id_chars}, {"category_chars", o.category_chars},
          {"text_chars", o.text_chars}, {"char_embedding", o.char_embedding}, {"filters", o.filters},
          {"hidden", o.hidden}, {"batch", o.batch}, {"epochs", o.epochs}, {"optimizer", to_string(o.optimizer)},
          {"learning_rate", o.learning_rate}, {"dropout", o.dropout}, {"loss", to_string(o.output.loss)},
          {"samples", o.output.samples}, {"sample_alpha", o.output.sample_alpha},
          {"bpr_regularization", o.output.bpr_regularization}, {"seed", o.seed}};
}

Cnn3dOptions options_from(const nlohmann::json& j) {
  Cnn3dOptions o;
  o.clicks = j.at("clicks").get<std::int64_t>();
  o.id_token = j.at("id_token").get<bool>();
  o.last_click = j.at("last_click").get<bool>();
  o.content_output = j.value("content_output", false);
  o.masked_pooling = j.value("masked_pooling", true);
  o.one_hot_chars = j.value("one_hot_chars", false);
  o.cart_weight = j.value("cart_weight", 0.0f);
  o.cart_head = j.value("cart_head", false);
  o.id_chars = j.at("id_chars").get<std::int64_t>();
  o.category_chars = j.at("category_chars").get<std::int64_t>();
  o.text_chars = j.at("text_chars").get<std::int64_t>();
  o.char_embedding = j.at("char_embedding").get<std::int64_t>();
  o.filters = j.at("filters").get<std::int64_t>();
  o.hidden = j.at("hidden").get<std::int64_t>();
  o.batch = j.at("batch").get<std::int64_t>();
  o.epochs = j.at("epochs").get<int>();
  o.optimizer = parse_optimizer_kind(j.at("optimizer").get<std::string>());
  o.learning_rate = j.at("learning_rate").get<float>();
  o.dropout = j.at("dropout").get<float>();
  o.output.loss = parse_item_loss(j.at("loss").get<std::string>());
  o.output.samples = j.at("samples").get<std::int64_t>();
  o.output.sample_alpha = j.at("sample_alpha").get<float>();
  o.output.bpr_regularization = j.at("bpr_regularization").get<float>();
  o.seed = j.at("seed").get<std::uint64_t>();
  return o;
}

}  // namespace

void Cnn3dRecommender::save(const std::string& path) const {
  nlohmann::json vocabulary = nlohmann::json::parse(catalog_vocabulary(training()));
  vocabulary["alphabet"] = impl_->alphabet;
  vocabulary["content_features"] = impl_->features.vocabulary;
  vocabulary["item_features"] = impl_->features.features.size();
  CheckpointWriter writer("cnn3d", options_json(cnn_options_).dump(), vocabulary.dump());
  add_catalog(writer, training());
  Context host(Device::cpu());
  writer.add(host, "item_characters",
             TensorView::contiguous(impl_->codes.data(), DType::kI32, Device::cpu(), {impl_->N, impl_->L}));
  ItemFeatures& f = impl_->features;
  if (f.vocabulary > 0) {
    writer.add(host, "item_feature_offsets", TensorView::contiguous(f.offsets.data(), DType::kI32, Device::cpu(), {impl_->N + 1}));
    writer.add(host, "item_features", TensorView::contiguous(f.features.data(), DType::kI32, Device::cpu(),
                                                             {static_cast<std::int64_t>(f.features.size())}));
  }
  for (const layers::NamedTensor& t : impl_->tensors(true)) writer.add(impl_->ctx, t.name, t.view);
  writer.write(path);
}

std::unique_ptr<Cnn3dRecommender> Cnn3dRecommender::load(Context& ctx, const std::string& path) {
  const CheckpointReader reader(path);
  reader.expect_kind("cnn3d");
  Cnn3dOptions o;
  std::int32_t alphabet = 0;
  ItemFeatures features;
  std::int64_t feature_count = 0;
  try {
    o = options_from(nlohmann::json::parse(reader.config_json()));
    const nlohmann::json vocabulary = nlohmann::json::parse(reader.vocabulary_json());
    alphabet = vocabulary.at("alphabet").get<std::int32_t>();
    features.vocabulary = vocabulary.value("content_features", std::int64_t{0});
    feature_count = vocabulary.value("item_features", std::int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": a 3D-CNN checkpoint's settings are unreadable: ", e.what());
  }
  TrainingSessions t = read_catalog(reader, path);
  std::vector<std::int32_t> codes(static_cast<std::size_t>(t.catalog.size()) * static_cast<std::size_t>(o.positions()));
  Context host(Device::cpu());
  reader.read(host, "item_characters",
              TensorView::contiguous(codes.data(), DType::kI32, Device::cpu(), {t.catalog.size(), o.positions()}));
  const std::int64_t symbols = alphabet + (o.id_token ? t.catalog.size() : 0);
  for (const std::int32_t c : codes) {
    if (c < -1 || c >= symbols) RECKON_THROW(StatusCode::kDataError, path, ": an item character is outside the alphabet");
  }
  if (features.vocabulary > 0) {
    if (feature_count < 0 || feature_count >= (std::int64_t{1} << 31)) {
      RECKON_THROW(StatusCode::kDataError, path, ": a bad item feature count");
    }
    features.offsets.resize(static_cast<std::size_t>(t.catalog.size()) + 1);
    features.features.resize(static_cast<std::size_t>(feature_count));
    reader.read(host, "item_feature_offsets", TensorView::contiguous(features.offsets.data(), DType::kI32, Device::cpu(), {t.catalog.size() + 1}));
    reader.read(host, "item_features", TensorView::contiguous(features.features.data(), DType::kI32, Device::cpu(), {feature_count}));
  }
  std::unique_ptr<Cnn3dRecommender> model;
  try {
    model.reset(new Cnn3dRecommender(ctx, o, std::move(t), std::move(codes), alphabet, std::move(features)));
  } catch (const Error& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": ", e.what());
  }
  for (const layers::NamedTensor& tensor : model->impl_->tensors(true)) reader.read(ctx, tensor.name, tensor.view);
  return model;
}

}  // namespace reckon::session
