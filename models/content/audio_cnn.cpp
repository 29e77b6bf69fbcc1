#include "reckon/models/content/audio_cnn.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/logmel/logmel.h"
#include "reckon/kernels/softmax/softmax.h"
#include "reckon/models/layers/conv.h"
#include "reckon/runtime/checkpoint.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"

namespace reckon::content {

Spectrograms compute_spectrograms(Context& ctx, const std::vector<std::vector<float>>& clips, const LogMelSettings& s) {
  MelFilterbankOptions fo;
  fo.sample_rate = s.sample_rate;
  fo.fft_size = s.fft_size;
  fo.mels = s.mels;
  const std::vector<float> bank = mel_filterbank(fo);
  Tensor fb = Tensor::empty(ctx, DType::kF32, {s.fft_size / 2 + 1, s.mels});
  copy_bytes(ctx, fb.view().data, ctx.device(), bank.data(), Device::cpu(), bank.size() * sizeof(float));
  Spectrograms out;
  out.mels = s.mels;
  for (const std::vector<float>& clip : clips) {
    const auto samples = static_cast<std::int64_t>(clip.size());
    const std::int64_t frames = logmel_frames(samples, s.fft_size, s.hop);
    out.images.emplace_back(static_cast<std::size_t>(frames * s.mels));
    if (frames == 0) continue;
    Tensor signal = Tensor::empty(ctx, DType::kF32, {1, samples});
    Tensor image = Tensor::empty(ctx, DType::kF32, {1, frames, s.mels});
    copy_bytes(ctx, signal.view().data, ctx.device(), clip.data(), Device::cpu(), clip.size() * sizeof(float));
    logmel(ctx, signal.view(), fb.view(), image.view(), s.hop);
    copy_bytes(ctx, out.images.back().data(), Device::cpu(), image.view().data, ctx.device(),
               out.images.back().size() * sizeof(float));
    ctx.synchronize();
  }
  return out;
}

namespace {

TensorView shaped(const Tensor& t, std::initializer_list<std::int64_t> sizes) {
  return TensorView::contiguous(t.view().data, t.view().dtype, t.view().device, sizes);
}

// Activations (and with training their gradients) of up to `rows` crops.
struct Activations {
  std::int64_t rows;
  Tensor x, y1, p1, a1, y2, p2, a2, y3, p3, a3, g, ga, h, logits, vec, targets, vector_targets;
  Tensor dy1, dp1, dy2, dp2, dy3, dp3, dg, dh, dlogits, dvec;
  Activations(Context& ctx, std::int64_t B, const AudioCnnOptions& o, bool training) : rows(B) {
    const std::int64_t T = o.crop_frames, M = o.logmel.mels, F = o.filters;
    const auto f32 = [&](std::int64_t n) { return Tensor::empty(ctx, DType::kF32, {std::max<std::int64_t>(n, 1)}); };
    const auto i32 = [&](std::int64_t n) { return Tensor::empty(ctx, DType::kI32, {std::max<std::int64_t>(n, 1)}); };
    x = f32(B * T * M);
    y1 = f32(B * T * M * F), p1 = f32(B * T * M * F / 4), a1 = i32(B * T * M * F / 4);
    y2 = f32(B * T * M * F / 2), p2 = f32(B * T * M * F / 8), a2 = i32(B * T * M * F / 8);
    y3 = f32(B * T * M * F / 4), p3 = f32(B * T * M * F / 32), a3 = i32(B * T * M * F / 32);
    g = f32(B * M * F / 4), ga = i32(B * M * F / 4), h = f32(B * o.hidden);
    logits = f32(B * o.classes), vec = f32(B * o.vector_dim);
    if (!training) return;
    targets = i32(B), vector_targets = f32(B * o.vector_dim);
    dy1 = f32(B * T * M * F), dp1 = f32(B * T * M * F / 4), dy2 = f32(B * T * M * F / 2), dp2 = f32(B * T * M * F / 8);
    dy3 = f32(B * T * M * F / 4), dp3 = f32(B * T * M * F / 32), dg = f32(B * M * F / 4), dh = f32(B * o.hidden);
    dlogits = f32(B * o.classes), dvec = f32(B * o.vector_dim);
  }
};

Pool3dOptions max_pool(std::int64_t time, std::int64_t bands) {
  return Pool3dOptions{PoolMode::kMax, {1, time, bands}, {1, time, bands}, {0, 0, 0}, true, ConvLayout::kNdhwc};
}

}  // namespace

struct AudioCnn::Impl {
  Context& ctx;
  AudioCnnOptions o;
  std::int64_t T, M, F;
  std::vector<float> band_mean, band_scale;
  layers::ParameterGroup group;
  std::unique_ptr<layers::Conv3d> conv1, conv2, conv3;
  layers::Pool3d pool1{max_pool(2, 2)}, pool2{max_pool(2, 2)}, pool3{max_pool(2, 4)};
  layers::GlobalPool global{PoolMode::kMax, ConvLayout::kNdhwc};
  std::unique_ptr<layers::Linear> dense, class_head, vector_head;
  layers::Dropout dropout;
  std::unique_ptr<Activations> train, eval;

  Impl(Context& c, const AudioCnnOptions& options, std::vector<float> mean, std::vector<float> scale);
  TensorView volume(const Tensor& t, std::int64_t rows, std::int64_t time, std::int64_t bands, std::int64_t channels) const {
    return shaped(t, {rows, 1, time, bands, channels});
  }
  void forward(Activations& a, std::int64_t rows, bool training);
  // The class head's per-crop losses into class_losses [rows], the vector head's sum into vector_loss [1].
  void backward(Activations& a, std::int64_t rows, const TensorView& class_losses, const TensorView& vector_loss);
  // Crop `start` of clip `image` (frames × M) into row r of the host batch, standardised, `gain` decibels added.
  void put_crop(const std::vector<float>& image, std::int64_t start, float gain, float* row) const;
  std::vector<layers::NamedTensor> tensors(bool with_state) const;
};

AudioCnn::Impl::Impl(Context& c, const AudioCnnOptions& options, std::vector<float> mean, std::vector<float> scale)
    : ctx(c), o(options), T(options.crop_frames), M(options.logmel.mels), F(options.filters),
      band_mean(std::move(mean)), band_scale(std::move(scale)), dropout(options.dropout, 0) {
  Optimizer opt;
  opt.kind = OptimizerKind::kAdam;
  opt.learning_rate = o.learning_rate;
  group = layers::ParameterGroup(ctx, opt, 1);
  Conv3dOptions conv;
  conv.pad = {0, 1, 1};
  conv.activation = Activation::kRelu;
  conv.layout = ConvLayout::kNdhwc;
  const auto stream = [&] { return ctx.next_rng_stream(); };
  conv1 = std::make_unique<layers::Conv3d>(ctx, "conv1", 1, F, std::array<std::int64_t, 3>{1, 3, 3}, conv, stream(), stream());
  conv2 = std::make_unique<layers::Conv3d>(ctx, "conv2", F, 2 * F, std::array<std::int64_t, 3>{1, 3, 3}, conv, stream(), stream());
  conv3 = std::make_unique<layers::Conv3d>(ctx, "conv3", 2 * F, 4 * F, std::array<std::int64_t, 3>{1, 3, 3}, conv, stream(), stream());
  dense = std::make_unique<layers::Linear>(ctx, "dense", M / 16 * 4 * F, o.hidden, Activation::kRelu, stream(), stream());
  if (o.classes > 0) class_head = std::make_unique<layers::Linear>(ctx, "class", o.hidden, o.classes, Activation::kNone, stream(), stream());
  if (o.vector_dim > 0) vector_head = std::make_unique<layers::Linear>(ctx, "vector", o.hidden, o.vector_dim, Activation::kNone, stream(), stream());
}

std::vector<layers::NamedTensor> AudioCnn::Impl::tensors(bool with_state) const {
  std::vector<layers::NamedTensor> out;
  for (const bool state : {false, true}) {
    if (state && !with_state) break;
    for (const auto* c : {conv1.get(), conv2.get(), conv3.get()}) state ? c->append_optimizer_state(out) : c->append_parameters(out);
    for (const auto* l : {dense.get(), class_head.get(), vector_head.get()}) {
      if (l != nullptr) state ? l->append_optimizer_state(out) : l->append_parameters(out);
    }
  }
  return out;
}

void AudioCnn::Impl::put_crop(const std::vector<float>& image, std::int64_t start, float gain, float* row) const {
  const std::int64_t frames = static_cast<std::int64_t>(image.size()) / M;
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t f = start + t;
    for (std::int64_t m = 0; m < M; ++m) {
      const auto b = static_cast<std::size_t>(m);
      row[t * M + m] = f < frames ? (image[static_cast<std::size_t>(f * M + m)] + gain - band_mean[b]) * band_scale[b] : 0.0f;
    }
  }
}

void AudioCnn::Impl::forward(Activations& a, std::int64_t R, bool training) {
  conv1->forward(ctx, volume(a.x, R, T, M, 1), volume(a.y1, R, T, M, F));
  pool1.forward(ctx, volume(a.y1, R, T, M, F), volume(a.p1, R, T / 2, M / 2, F), volume(a.a1, R, T / 2, M / 2, F));
  conv2->forward(ctx, volume(a.p1, R, T / 2, M / 2, F), volume(a.y2, R, T / 2, M / 2, 2 * F));
  pool2.forward(ctx, volume(a.y2, R, T / 2, M / 2, 2 * F), volume(a.p2, R, T / 4, M / 4, 2 * F), volume(a.a2, R, T / 4, M / 4, 2 * F));
  conv3->forward(ctx, volume(a.p2, R, T / 4, M / 4, 2 * F), volume(a.y3, R, T / 4, M / 4, 4 * F));
  pool3.forward(ctx, volume(a.y3, R, T / 4, M / 4, 4 * F), volume(a.p3, R, T / 8, M / 16, 4 * F), volume(a.a3, R, T / 8, M / 16, 4 * F));
  // Channels last, the band groups and channels of one time step are adjacent: pooled over time, they stay apart.
  const std::int64_t G = M / 16 * 4 * F;
  global.forward(ctx, volume(a.p3, R, T / 8, 1, G), {}, shaped(a.g, {R, G}), shaped(a.ga, {R, G}));
  dense->forward(ctx, shaped(a.g, {R, G}), shaped(a.h, {R, o.hidden}));
  if (training && o.dropout > 0) dropout.forward(ctx, shaped(a.h, {R, o.hidden}), group.clock());
  if (class_head) class_head->forward(ctx, shaped(a.h, {R, o.hidden}), shaped(a.logits, {R, o.classes}));
  if (vector_head) vector_head->forward(ctx, shaped(a.h, {R, o.hidden}), shaped(a.vec, {R, o.vector_dim}));
}

void AudioCnn::Impl::backward(Activations& a, std::int64_t R, const TensorView& class_losses,
                              const TensorView& vector_loss) {
  const std::int64_t G = M / 16 * 4 * F;
  const TensorView h = shaped(a.h, {R, o.hidden}), dh = shaped(a.dh, {R, o.hidden});
  bool first = true;
  if (class_head) {
    softmax_cross_entropy(ctx, shaped(a.logits, {R, o.classes}), shaped(a.targets, {R}), class_losses,
                          shaped(a.dlogits, {R, o.classes}), 1.0f / static_cast<float>(R));
    class_head->backward(ctx, h, shaped(a.dlogits, {R, o.classes}), dh, false);
    first = false;
  }
  if (vector_head) {
    const TensorView v = shaped(a.vec, {R, o.vector_dim});
    squared_error(ctx, v, shaped(a.vector_targets, {R, o.vector_dim}), vector_loss,
                  shaped(a.dvec, {R, o.vector_dim}), o.vector_weight / static_cast<float>(R * o.vector_dim));
    vector_head->backward(ctx, h, shaped(a.dvec, {R, o.vector_dim}), dh, !first);
  }
  if (o.dropout > 0) dropout.backward(ctx, dh, group.clock());
  relu_bwd(ctx, h, dh);
  dense->backward(ctx, shaped(a.g, {R, G}), dh, shaped(a.dg, {R, G}), false);
  global.backward(ctx, shaped(a.dg, {R, G}), {}, shaped(a.ga, {R, G}), volume(a.dp3, R, T / 8, 1, G));
  pool3.backward(ctx, volume(a.dp3, R, T / 8, M / 16, 4 * F), volume(a.a3, R, T / 8, M / 16, 4 * F), volume(a.dy3, R, T / 4, M / 4, 4 * F));
  relu_bwd(ctx, shaped(a.y3, {R * T / 4 * M / 4, 4 * F}), shaped(a.dy3, {R * T / 4 * M / 4, 4 * F}));
  conv3->backward(ctx, volume(a.p2, R, T / 4, M / 4, 2 * F), volume(a.dy3, R, T / 4, M / 4, 4 * F), volume(a.dp2, R, T / 4, M / 4, 2 * F));
  pool2.backward(ctx, volume(a.dp2, R, T / 4, M / 4, 2 * F), volume(a.a2, R, T / 4, M / 4, 2 * F), volume(a.dy2, R, T / 2, M / 2, 2 * F));
  relu_bwd(ctx, shaped(a.y2, {R * T / 2 * M / 2, 2 * F}), shaped(a.dy2, {R * T / 2 * M / 2, 2 * F}));
  conv2->backward(ctx, volume(a.p1, R, T / 2, M / 2, F), volume(a.dy2, R, T / 2, M / 2, 2 * F), volume(a.dp1, R, T / 2, M / 2, F));
  pool1.backward(ctx, volume(a.dp1, R, T / 2, M / 2, F), volume(a.a1, R, T / 2, M / 2, F), volume(a.dy1, R, T, M, F));
  relu_bwd(ctx, shaped(a.y1, {R * T * M, F}), shaped(a.dy1, {R * T * M, F}));
  conv1->backward(ctx, volume(a.x, R, T, M, 1), volume(a.dy1, R, T, M, F), {});
  for (const auto* c : {conv1.get(), conv2.get(), conv3.get()}) c->update(ctx, group, 0.0f);
  for (const auto* l : {dense.get(), class_head.get(), vector_head.get()}) {
    if (l != nullptr) l->update(ctx, group, 0.0f);
  }
}

namespace {

void check_options(const AudioCnnOptions& o) {
  RECKON_CHECK_ARG(o.classes >= 0 && o.vector_dim >= 0 && o.classes + o.vector_dim > 0,
                   "the content CNN needs a class head or a vector head (classes or vector_dim > 0)");
  RECKON_CHECK_ARG(o.crop_frames >= 8 && o.crop_frames % 8 == 0 && o.logmel.mels >= 16 && o.logmel.mels % 16 == 0,
                   "crop_frames must be a multiple of 8 and mels a multiple of 16, got ", o.crop_frames, " and ", o.logmel.mels);
  RECKON_CHECK_ARG(o.filters >= 1 && o.hidden >= 1 && o.batch >= 1 && o.epochs >= 0, "filters, hidden and batch must be >= 1");
  RECKON_CHECK_ARG(o.dropout >= 0 && o.dropout < 1 && o.learning_rate > 0 && o.vector_weight >= 0 && o.gain_db >= 0,
                   "dropout in [0, 1), a positive learning rate, vector_weight and gain_db >= 0");
}

// Each band's mean and 1 / standard deviation over every frame of every clip.
std::pair<std::vector<float>, std::vector<float>> band_statistics(const Spectrograms& s) {
  const auto M = static_cast<std::size_t>(s.mels);
  std::vector<double> sum(M, 0), squares(M, 0);
  double frames = 0;
  for (const auto& image : s.images) {
    for (std::size_t i = 0; i < image.size(); ++i) {
      sum[i % M] += image[i];
      squares[i % M] += static_cast<double>(image[i]) * image[i];
    }
    frames += static_cast<double>(image.size() / M);
  }
  RECKON_CHECK_ARG(frames > 0, "the training clips have no frames (each must be at least one FFT long)");
  std::vector<float> mean(M), scale(M);
  for (std::size_t m = 0; m < M; ++m) {
    const double mu = sum[m] / frames, var = std::max(0.0, squares[m] / frames - mu * mu);
    mean[m] = static_cast<float>(mu);
    scale[m] = static_cast<float>(1.0 / std::sqrt(var + 1e-3));
  }
  return {mean, scale};
}

}  // namespace

AudioCnn::AudioCnn(Context& ctx, const AudioCnnOptions& options, std::vector<std::string> class_names,
                   const Spectrograms& train)
    : options_(options), class_names_(std::move(class_names)) {
  check_options(options);
  RECKON_CHECK_ARG(train.mels == options.logmel.mels, "the spectrograms have ", train.mels, " bands, the model ",
                   options.logmel.mels);
  RECKON_CHECK_ARG(static_cast<int>(class_names_.size()) == options.classes, options.classes, " classes but ",
                   class_names_.size(), " class names");
  auto [mean, scale] = band_statistics(train);
  ctx.set_seed(options.seed);
  impl_ = std::make_unique<Impl>(ctx, options, std::move(mean), std::move(scale));
}

AudioCnn::AudioCnn(Context& ctx, const AudioCnnOptions& options, std::vector<std::string> class_names,
                   std::vector<float> band_mean, std::vector<float> band_scale)
    : options_(options), class_names_(std::move(class_names)) {
  check_options(options);
  ctx.set_seed(options.seed);
  impl_ = std::make_unique<Impl>(ctx, options, std::move(band_mean), std::move(band_scale));
}

AudioCnn::~AudioCnn() = default;

std::vector<layers::NamedTensor> AudioCnn::state() const { return impl_->tensors(true); }
Context& AudioCnn::context() const { return impl_->ctx; }

namespace {

void check_examples(const AudioExamples& e, const AudioCnnOptions& o) {
  const std::size_t n = e.spectrograms.size();
  RECKON_CHECK_ARG(n > 0 && e.spectrograms.mels == o.logmel.mels, "examples need clips with ", o.logmel.mels, " bands");
  RECKON_CHECK_ARG(o.classes == 0 || e.labels.size() == n, n, " clips but ", e.labels.size(), " labels");
  for (const std::int32_t label : e.labels) {
    RECKON_CHECK_ARG(o.classes == 0 || (label >= 0 && label < o.classes), "a label ", label, " outside [0, ", o.classes, ")");
  }
  RECKON_CHECK_ARG(o.vector_dim == 0 || e.vectors.size() == n * static_cast<std::size_t>(o.vector_dim), n,
                   " clips need ", n * static_cast<std::size_t>(o.vector_dim), " vector values, got ", e.vectors.size());
  for (const float v : e.vectors) {
    if (!std::isfinite(v)) RECKON_THROW(StatusCode::kNumericError, "an item vector value is not finite");
  }
}

void upload(Context& ctx, const Tensor& t, const void* host, std::size_t bytes) {
  copy_bytes(ctx, t.view().data, ctx.device(), host, Device::cpu(), bytes);
}

}  // namespace

AudioEpoch AudioCnn::train_epoch(const AudioExamples& train, int epoch) {
  Impl& m = *impl_;
  check_examples(train, options_);
  const std::int64_t B = options_.batch, T = m.T, M = m.M, D = options_.vector_dim;
  if (!m.train) m.train = std::make_unique<Activations>(m.ctx, B, options_, true);
  Activations& a = *m.train;
  const auto n = static_cast<std::int64_t>(train.spectrograms.size());
  PhiloxStream rng(options_.seed, m.ctx.next_rng_stream());
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng.next_u32(), static_cast<std::uint32_t>(i))]);
  std::vector<float> x(static_cast<std::size_t>(B * T * M)), vectors(static_cast<std::size_t>(B * D));
  std::vector<std::int32_t> labels(static_cast<std::size_t>(B));
  // Losses stay on the device until the epoch ends: a crop's class loss each, a step's vector loss sum each.
  const std::int64_t steps = (n + B - 1) / B;
  Tensor class_losses = Tensor::empty(m.ctx, DType::kF32, {n}), vector_losses = Tensor::empty(m.ctx, DType::kF32, {steps});
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t at = 0; at < n; at += B) {
    const std::int64_t R = std::min(B, n - at);
    for (std::int64_t r = 0; r < R; ++r) {
      const auto clip = static_cast<std::size_t>(order[static_cast<std::size_t>(at + r)]);
      const std::int64_t frames = train.spectrograms.frames(clip);
      const std::int64_t start_frame = frames > T ? uniform_below(rng.next_u32(), static_cast<std::uint32_t>(frames - T + 1)) : 0;
      const float gain = options_.gain_db * (2.0f * rng.next_uniform() - 1.0f);
      m.put_crop(train.spectrograms.images[clip], start_frame, gain, x.data() + r * T * M);
      if (options_.classes > 0) labels[static_cast<std::size_t>(r)] = train.labels[clip];
      if (D > 0) std::copy_n(train.vectors.begin() + static_cast<std::ptrdiff_t>(clip * static_cast<std::size_t>(D)), D, vectors.begin() + r * D);
    }
    upload(m.ctx, a.x, x.data(), static_cast<std::size_t>(R * T * M) * sizeof(float));
    if (options_.classes > 0) upload(m.ctx, a.targets, labels.data(), static_cast<std::size_t>(R) * sizeof(std::int32_t));
    if (D > 0) upload(m.ctx, a.vector_targets, vectors.data(), static_cast<std::size_t>(R * D) * sizeof(float));
    m.group.advance(m.ctx);
    m.forward(a, R, true);
    m.backward(a, R, TensorView::contiguous(static_cast<float*>(class_losses.view().data) + at, DType::kF32, m.ctx.device(), {R}),
               TensorView::contiguous(static_cast<float*>(vector_losses.view().data) + at / B, DType::kF32, m.ctx.device(), {1}));
  }
  const auto sum_of = [&](const Tensor& t, std::int64_t count) {
    std::vector<float> h(static_cast<std::size_t>(count));
    copy_bytes(m.ctx, h.data(), Device::cpu(), t.view().data, m.ctx.device(), h.size() * sizeof(float));
    m.ctx.synchronize();
    return std::accumulate(h.begin(), h.end(), 0.0);
  };
  const double class_sum = options_.classes > 0 ? sum_of(class_losses, n) : 0.0, vector_sum = D > 0 ? sum_of(vector_losses, steps) : 0.0;
  if (!std::isfinite(class_sum) || !std::isfinite(vector_sum)) {
    RECKON_THROW(StatusCode::kNumericError, "the content CNN's loss stopped being finite in epoch ", epoch);
  }
  AudioEpoch e;
  e.epoch = epoch;
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.clips_per_second = static_cast<double>(n) / std::max(e.seconds, 1e-9);
  if (options_.classes > 0) e.class_loss = class_sum / static_cast<double>(n);
  if (D > 0) e.vector_loss = vector_sum / static_cast<double>(n * D);
  return e;
}

std::vector<AudioPrediction> AudioCnn::predict(const Spectrograms& clips) const {
  Impl& m = *impl_;
  RECKON_CHECK_ARG(clips.mels == options_.logmel.mels, "spectrograms of ", clips.mels, " bands for a model of ", options_.logmel.mels);
  constexpr std::int64_t kRows = 64;
  if (!m.eval) m.eval = std::make_unique<Activations>(m.ctx, kRows, options_, false);
  Activations& a = *m.eval;
  const std::int64_t T = m.T, M = m.M, C = options_.classes, D = options_.vector_dim, hop = std::max<std::int64_t>(1, T / 2);
  // Every crop of every clip: (clip, start).
  std::vector<std::pair<std::size_t, std::int64_t>> crops;
  for (std::size_t c = 0; c < clips.size(); ++c) {
    const std::int64_t frames = clips.frames(c);
    for (std::int64_t s = 0; s == 0 || s + T <= frames; s += hop) crops.emplace_back(c, s);
  }
  std::vector<double> logit_sum(clips.size() * static_cast<std::size_t>(C), 0), vector_sum(clips.size() * static_cast<std::size_t>(D), 0);
  std::vector<int> counts(clips.size(), 0);
  std::vector<float> x(static_cast<std::size_t>(kRows * T * M)), logits(static_cast<std::size_t>(kRows * C)), vec(static_cast<std::size_t>(kRows * D));
  for (std::size_t at = 0; at < crops.size(); at += kRows) {
    const auto R = static_cast<std::int64_t>(std::min<std::size_t>(kRows, crops.size() - at));
    for (std::int64_t r = 0; r < R; ++r) {
      const auto& [clip, s] = crops[at + static_cast<std::size_t>(r)];
      m.put_crop(clips.images[clip], s, 0.0f, x.data() + r * T * M);
    }
    upload(m.ctx, a.x, x.data(), static_cast<std::size_t>(R * T * M) * sizeof(float));
    m.forward(a, R, false);
    if (C > 0) copy_bytes(m.ctx, logits.data(), Device::cpu(), a.logits.view().data, m.ctx.device(), static_cast<std::size_t>(R * C) * sizeof(float));
    if (D > 0) copy_bytes(m.ctx, vec.data(), Device::cpu(), a.vec.view().data, m.ctx.device(), static_cast<std::size_t>(R * D) * sizeof(float));
    m.ctx.synchronize();
    for (std::int64_t r = 0; r < R; ++r) {
      const std::size_t clip = crops[at + static_cast<std::size_t>(r)].first;
      ++counts[clip];
      for (std::int64_t k = 0; k < C; ++k) logit_sum[clip * static_cast<std::size_t>(C) + static_cast<std::size_t>(k)] += logits[static_cast<std::size_t>(r * C + k)];
      for (std::int64_t k = 0; k < D; ++k) vector_sum[clip * static_cast<std::size_t>(D) + static_cast<std::size_t>(k)] += vec[static_cast<std::size_t>(r * D + k)];
    }
  }
  std::vector<AudioPrediction> out(clips.size());
  for (std::size_t c = 0; c < clips.size(); ++c) {
    const double inv = 1.0 / counts[c];
    double top = -INFINITY, total = 0;
    for (std::int64_t k = 0; k < C; ++k) top = std::max(top, logit_sum[c * static_cast<std::size_t>(C) + static_cast<std::size_t>(k)] * inv);
    for (std::int64_t k = 0; k < C; ++k) {
      out[c].probabilities.push_back(static_cast<float>(std::exp(logit_sum[c * static_cast<std::size_t>(C) + static_cast<std::size_t>(k)] * inv - top)));
      total += out[c].probabilities.back();
    }
    for (float& p : out[c].probabilities) p = static_cast<float>(p / total);
    for (std::int64_t k = 0; k < D; ++k) out[c].vector.push_back(static_cast<float>(vector_sum[c * static_cast<std::size_t>(D) + static_cast<std::size_t>(k)] * inv));
  }
  return out;
}

double accuracy(const std::vector<AudioPrediction>& predictions, const std::vector<std::int32_t>& labels) {
  RECKON_CHECK_ARG(predictions.size() == labels.size() && !labels.empty(), "accuracy: ", predictions.size(),
                   " predictions for ", labels.size(), " labels");
  std::size_t right = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& p = predictions[i].probabilities;
    right += !p.empty() && std::max_element(p.begin(), p.end()) - p.begin() == labels[i] ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

std::vector<std::int64_t> confusion_matrix(const std::vector<AudioPrediction>& predictions,
                                           const std::vector<std::int32_t>& labels, int classes) {
  RECKON_CHECK_ARG(predictions.size() == labels.size(), "confusion matrix: sizes differ");
  std::vector<std::int64_t> m(static_cast<std::size_t>(classes * classes), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& p = predictions[i].probabilities;
    const auto guess = std::max_element(p.begin(), p.end()) - p.begin();
    RECKON_CHECK_ARG(labels[i] >= 0 && labels[i] < classes && static_cast<int>(p.size()) == classes, "confusion matrix: a bad label or prediction");
    ++m[static_cast<std::size_t>(labels[i] * classes + guess)];
  }
  return m;
}

double log_loss(const std::vector<AudioPrediction>& predictions, const std::vector<std::int32_t>& labels) {
  RECKON_CHECK_ARG(predictions.size() == labels.size() && !labels.empty(), "log loss: ", predictions.size(),
                   " predictions for ", labels.size(), " labels");
  double sum = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& p = predictions[i].probabilities;
    RECKON_CHECK_ARG(labels[i] >= 0 && static_cast<std::size_t>(labels[i]) < p.size(), "log loss: a label outside the classes");
    sum -= std::log(std::max(1e-7, static_cast<double>(p[static_cast<std::size_t>(labels[i])])));
  }
  return sum / static_cast<double>(labels.size());
}

AudioFitResult fit(AudioCnn& model, const AudioExamples& train, const AudioExamples* validation, int patience,
                   const std::function<void(const AudioEpoch&, double)>& on_epoch) {
  AudioFitResult r;
  double best = -1;
  std::vector<std::vector<unsigned char>> kept;
  Context& ctx = model.context();
  const auto snapshot = [&] {
    kept.clear();
    for (const layers::NamedTensor& t : model.state()) {
      kept.emplace_back(t.view.numel() * dtype_size(t.view.dtype));
      copy_bytes(ctx, kept.back().data(), Device::cpu(), t.view.data, ctx.device(), kept.back().size());
    }
    ctx.synchronize();
  };
  for (int e = 1; e <= model.options().epochs; ++e) {
    r.epochs.push_back(model.train_epoch(train, e));
    double acc = -1;
    if (validation != nullptr) {
      const std::vector<AudioPrediction> p = model.predict(validation->spectrograms);
      acc = accuracy(p, validation->labels);
      const double loss = log_loss(p, validation->labels);
      r.validation_accuracy.push_back(acc);
      r.validation_loss.push_back(loss);
      if (best < 0 || loss < best) {
        best = loss;
        r.best_epoch = e;
        snapshot();
      }
    } else {
      r.best_epoch = e;
    }
    if (on_epoch) on_epoch(r.epochs.back(), acc);
    if (validation != nullptr && e - r.best_epoch >= patience) break;
  }
  if (validation != nullptr && !kept.empty()) {
    const auto state = model.state();
    for (std::size_t i = 0; i < state.size(); ++i) copy_bytes(ctx, state[i].view.data, ctx.device(), kept[i].data(), Device::cpu(), kept[i].size());
    ctx.synchronize();
  }
  return r;
}

namespace {

nlohmann::json options_json(const AudioCnnOptions& o) {
  return {{"classes", o.classes}, {"vector_dim", o.vector_dim}, {"sample_rate", o.logmel.sample_rate},
          {"fft_size", o.logmel.fft_size}, {"hop", o.logmel.hop}, {"mels", o.logmel.mels},
          {"crop_frames", o.crop_frames}, {"filters", o.filters}, {"hidden", o.hidden}, {"dropout", o.dropout},
          {"learning_rate", o.learning_rate}, {"vector_weight", o.vector_weight}, {"gain_db", o.gain_db},
          {"batch", o.batch}, {"epochs", o.epochs}, {"seed", o.seed}};
}

AudioCnnOptions options_from(const nlohmann::json& j) {
  AudioCnnOptions o;
  o.classes = j.at("classes").get<int>();
  o.vector_dim = j.at("vector_dim").get<int>();
  o.logmel = {j.at("sample_rate").get<int>(), j.at("fft_size").get<int>(), j.at("hop").get<int>(), j.at("mels").get<int>()};
  o.crop_frames = j.at("crop_frames").get<int>();
  o.filters = j.at("filters").get<int>();
  o.hidden = j.at("hidden").get<int>();
  o.dropout = j.at("dropout").get<float>();
  o.learning_rate = j.at("learning_rate").get<float>();
  o.vector_weight = j.at("vector_weight").get<float>();
  o.gain_db = j.at("gain_db").get<float>();
  o.batch = j.at("batch").get<int>();
  o.epochs = j.at("epochs").get<int>();
  o.seed = j.at("seed").get<std::uint64_t>();
  return o;
}

}  // namespace

void AudioCnn::save(const std::string& path) const {
  const nlohmann::json vocabulary = {{"classes", class_names_}};
  CheckpointWriter writer("audio_cnn", options_json(options_).dump(), vocabulary.dump());
  Context host(Device::cpu());
  const auto M = static_cast<std::int64_t>(impl_->band_mean.size());
  writer.add(host, "band_mean", TensorView::contiguous(impl_->band_mean.data(), DType::kF32, Device::cpu(), {M}));
  writer.add(host, "band_scale", TensorView::contiguous(impl_->band_scale.data(), DType::kF32, Device::cpu(), {M}));
  for (const layers::NamedTensor& t : impl_->tensors(true)) writer.add(impl_->ctx, t.name, t.view);
  writer.write(path);
}

std::unique_ptr<AudioCnn> AudioCnn::load(Context& ctx, const std::string& path) {
  const CheckpointReader reader(path);
  reader.expect_kind("audio_cnn");
  AudioCnnOptions o;
  std::vector<std::string> names;
  try {
    o = options_from(nlohmann::json::parse(reader.config_json()));
    names = nlohmann::json::parse(reader.vocabulary_json()).at("classes").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": a content CNN checkpoint's settings are unreadable: ", e.what());
  }
  if (o.logmel.mels < 16 || o.logmel.mels > 4096 || static_cast<int>(names.size()) != o.classes) {
    RECKON_THROW(StatusCode::kDataError, path, ": bad settings (", o.logmel.mels, " bands, ", names.size(), " class names for ", o.classes, " classes)");
  }
  std::vector<float> mean(static_cast<std::size_t>(o.logmel.mels)), scale(mean.size());
  Context host(Device::cpu());
  reader.read(host, "band_mean", TensorView::contiguous(mean.data(), DType::kF32, Device::cpu(), {o.logmel.mels}));
  reader.read(host, "band_scale", TensorView::contiguous(scale.data(), DType::kF32, Device::cpu(), {o.logmel.mels}));
  std::unique_ptr<AudioCnn> model;
  try {
    model.reset(new AudioCnn(ctx, o, std::move(names), std::move(mean), std::move(scale)));
  } catch (const Error& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": ", e.what());
  }
  for (const layers::NamedTensor& t : model->impl_->tensors(true)) reader.read(ctx, t.name, t.view);
  return model;
}

}  // namespace reckon::content
