#include "reckon/models/item2vec/vectors.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ostream>
#include <sstream>

#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/topk/topk.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/file_io.h"

namespace reckon::item2vec {

std::int32_t KeyedVectors::lookup(const std::string& token) const {
  const auto it = index_.find(token);
  return it == index_.end() ? -1 : it->second;
}

void KeyedVectors::build_index() {
  index_.clear();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!index_.emplace(tokens[i], static_cast<std::int32_t>(i)).second) {
      RECKON_THROW(StatusCode::kDataError, "token '", tokens[i], "' appears twice");
    }
  }
}

void save_word2vec(const KeyedVectors& v, const std::string& path, bool binary) {
  RECKON_CHECK_ARG(static_cast<std::int64_t>(v.vectors.size()) == v.size() * v.dim, "vectors hold ", v.vectors.size(),
                   " floats, expected ", v.size(), " x ", v.dim);
  write_file_atomically(path, [&](std::ostream& out) {
    out << v.size() << ' ' << v.dim << '\n';
    char number[32];
    for (std::int64_t i = 0; i < v.size(); ++i) {
      const std::string& t = v.tokens[static_cast<std::size_t>(i)];
      RECKON_CHECK_ARG(!t.empty() && t.find_first_of(" \t\n") == std::string::npos, "token '", t,
                       "' is empty or holds whitespace: not representable in word2vec format");
      out << t << ' ';
      const float* row = v.vectors.data() + i * v.dim;
      if (binary) {
        out.write(reinterpret_cast<const char*>(row), static_cast<std::streamsize>(v.dim * 4));
      } else {
        for (std::int64_t d = 0; d < v.dim; ++d) {
          // Shortest round-trip representation: reading it back gives the same float.
          const auto r = std::to_chars(number, number + sizeof(number), row[d]);
          out.write(number, r.ptr - number);
          if (d + 1 < v.dim) out.put(' ');
        }
      }
      out.put('\n');
    }
  });
}

KeyedVectors load_word2vec(const std::string& path) {
  const std::string bytes = read_file(path);
  KeyedVectors v;
  std::int64_t count = 0;
  std::size_t at = bytes.find('\n');
  {
    std::istringstream header(bytes.substr(0, at));
    if (at == std::string::npos || !(header >> count >> v.dim) || count < 0 || v.dim < 1 || v.dim > 100000) {
      RECKON_THROW(StatusCode::kDataError, path, ":1: expected a header 'count dimension'");
    }
  }
  ++at;
  // A vector takes at least 2·dim + 1 bytes ("t 1 2 3" in text; binary takes more): a header promising more than
  // the file can hold is refused before anything is sized by it.
  if (static_cast<std::uint64_t>(count) > (bytes.size() - at) / (2 * static_cast<std::uint64_t>(v.dim) + 1)) {
    RECKON_THROW(StatusCode::kDataError, path, ":1: the header promises ", count, " vectors of dimension ", v.dim,
                 ", more than the file's ", bytes.size(), " bytes can hold (truncated?)");
  }
  // Binary when the bytes after the first token are not all printable text.
  bool binary = false;
  if (count > 0) {
    const std::size_t space = bytes.find(' ', at);
    if (space != std::string::npos) {
      const std::size_t probe = std::min(bytes.size(), space + 1 + static_cast<std::size_t>(v.dim) * 4);
      for (std::size_t i = space + 1; i < probe; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if ((c < 32 && c != '\n' && c != '\r' && c != '\t') || c > 126) binary = true;
      }
    }
  }
  v.tokens.reserve(static_cast<std::size_t>(count));
  v.vectors.resize(static_cast<std::size_t>(count * v.dim));
  for (std::int64_t i = 0; i < count; ++i) {
    std::string where = path;
    where.append(binary ? ": record " : ":").append(std::to_string(binary ? i + 1 : i + 2));
    while (at < bytes.size() && (bytes[at] == '\n' || bytes[at] == '\r')) ++at;
    const std::size_t space = bytes.find(' ', at);
    if (space == std::string::npos || space == at) RECKON_THROW(StatusCode::kDataError, where, ": expected 'token' and ", v.dim, " numbers");
    v.tokens.push_back(bytes.substr(at, space - at));
    if (v.tokens.back().find('\n') != std::string::npos) {
      RECKON_THROW(StatusCode::kDataError, where, ": expected 'token' and ", v.dim, " numbers");
    }
    at = space + 1;
    float* row = v.vectors.data() + i * v.dim;
    if (binary) {
      if (bytes.size() - at < static_cast<std::size_t>(v.dim) * 4) {
        RECKON_THROW(StatusCode::kDataError, where, ": truncated (", v.dim, " floats expected)");
      }
      std::memcpy(row, bytes.data() + at, static_cast<std::size_t>(v.dim) * 4);
      at += static_cast<std::size_t>(v.dim) * 4;
    } else {
      const std::size_t eol = std::min(bytes.find('\n', at), bytes.size());
      const char* p = bytes.data() + at;
      const char* end = bytes.data() + eol;
      for (std::int64_t d = 0; d < v.dim; ++d) {
        while (p < end && (*p == ' ' || *p == '\t')) ++p;
        const auto r = std::from_chars(p, end, row[d]);
        if (r.ec != std::errc()) {
          RECKON_THROW(StatusCode::kDataError, where, ": value ", d + 1, " of ", v.dim, " is missing or not a number");
        }
        p = r.ptr;
      }
      while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
      if (p != end) RECKON_THROW(StatusCode::kDataError, where, ": more than ", v.dim, " values");
      at = eol;
    }
    for (std::int64_t d = 0; d < v.dim; ++d) {
      if (!std::isfinite(row[d])) RECKON_THROW(StatusCode::kDataError, where, ": value ", d + 1, " is not finite");
    }
  }
  try {
    v.build_index();
  } catch (const Error& e) {
    RECKON_THROW(StatusCode::kDataError, path, ": ", e.message());
  }
  return v;
}

namespace {

// dst = src / |src| (a zero row stays zero); dst may be src.
void normalize(const float* src, float* dst, std::int64_t dim) {
  double norm = 0;
  for (std::int64_t d = 0; d < dim; ++d) norm += static_cast<double>(src[d]) * src[d];
  const auto scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  for (std::int64_t d = 0; d < dim; ++d) dst[d] = src[d] * scale;
}

}  // namespace

SimilarityIndex::SimilarityIndex(Context& ctx, const KeyedVectors& v, std::int64_t rows)
    : ctx_(&ctx), rows_(rows > 0 ? std::min(rows, v.size()) : v.size()), dim_(v.dim) {
  RECKON_CHECK_ARG(rows_ >= 1, "a similarity index needs at least one vector");
  host_.assign(v.vectors.begin(), v.vectors.begin() + rows_ * dim_);
  for (std::int64_t i = 0; i < rows_; ++i) normalize(host_.data() + i * dim_, host_.data() + i * dim_, dim_);
  table_ = Tensor::empty(ctx, DType::kF32, {rows_, dim_});
  copy_bytes(ctx, table_.view().data, ctx.device(), host_.data(), Device::cpu(), host_.size() * sizeof(float));
  ctx.synchronize();
}

std::vector<std::vector<Neighbor>> SimilarityIndex::top_k(const std::vector<float>& queries, int k,
                                                          const std::vector<std::vector<std::int32_t>>& exclude) const {
  Context& ctx = *ctx_;
  RECKON_CHECK_ARG(k >= 1 && k <= kTopkMaxK, "k ", k, " outside [1, ", kTopkMaxK, "]");
  RECKON_CHECK_ARG(queries.size() % static_cast<std::size_t>(dim_) == 0, "queries are not rows of ", dim_);
  const auto Q = static_cast<std::int64_t>(queries.size()) / dim_;
  RECKON_CHECK_ARG(exclude.empty() || static_cast<std::int64_t>(exclude.size()) == Q, "one exclusion list per query");
  std::vector<std::vector<Neighbor>> out(static_cast<std::size_t>(Q));
  if (Q == 0) return out;
  const int kk = static_cast<int>(std::min<std::int64_t>(k, rows_));
  // Queries in chunks so the score matrix stays near 256 MiB; only the [chunk, k] results come back.
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(Q, (std::int64_t{64} << 20) / rows_));
  Tensor q_dev = Tensor::empty(ctx, DType::kF32, {chunk, dim_});
  Tensor scores = Tensor::empty(ctx, DType::kF32, {chunk, rows_});
  Tensor ids_dev = Tensor::empty(ctx, DType::kI32, {chunk, kk});
  Tensor best_dev = Tensor::empty(ctx, DType::kF32, {chunk, kk});
  std::vector<float> q_host(static_cast<std::size_t>(chunk * dim_)), best(static_cast<std::size_t>(chunk * kk));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(chunk * kk)), mask_rows, mask_columns;
  for (std::int64_t q0 = 0; q0 < Q; q0 += chunk) {
    const std::int64_t n = std::min(chunk, Q - q0);
    mask_rows.clear();
    mask_columns.clear();
    for (std::int64_t i = 0; i < n; ++i) {
      normalize(queries.data() + (q0 + i) * dim_, q_host.data() + i * dim_, dim_);
      if (!exclude.empty()) {
        for (std::int32_t id : exclude[static_cast<std::size_t>(q0 + i)]) {
          mask_rows.push_back(static_cast<std::int32_t>(i));
          mask_columns.push_back(id);
        }
      }
    }
    copy_bytes(ctx, q_dev.view().data, ctx.device(), q_host.data(), Device::cpu(), static_cast<std::size_t>(n * dim_) * 4);
    const TensorView qv = TensorView::contiguous(q_dev.view().data, DType::kF32, ctx.device(), {n, dim_});
    const TensorView sv = TensorView::contiguous(scores.view().data, DType::kF32, ctx.device(), {n, rows_});
    linear_bwd_data(ctx, qv, table_.view(), sv);  // scores = queries · tableᵀ
    if (!mask_rows.empty()) {
      const auto m = static_cast<std::int64_t>(mask_rows.size());
      Tensor r = Tensor::empty(ctx, DType::kI32, {m}), c = Tensor::empty(ctx, DType::kI32, {m});
      copy_bytes(ctx, r.view().data, ctx.device(), mask_rows.data(), Device::cpu(), static_cast<std::size_t>(m) * 4);
      copy_bytes(ctx, c.view().data, ctx.device(), mask_columns.data(), Device::cpu(), static_cast<std::size_t>(m) * 4);
      mask_entries(ctx, sv, r.view(), c.view());
      ctx.synchronize();  // the staged lists are freed at the end of this scope
    }
    const TensorView iv = TensorView::contiguous(ids_dev.view().data, DType::kI32, ctx.device(), {n, kk});
    const TensorView bv = TensorView::contiguous(best_dev.view().data, DType::kF32, ctx.device(), {n, kk});
    topk_rows(ctx, sv, kk, iv, bv);
    copy_bytes(ctx, ids.data(), Device::cpu(), iv.data, ctx.device(), static_cast<std::size_t>(n * kk) * 4);
    copy_bytes(ctx, best.data(), Device::cpu(), bv.data, ctx.device(), static_cast<std::size_t>(n * kk) * 4);
    ctx.synchronize();
    for (std::int64_t i = 0; i < n; ++i) {
      auto& result = out[static_cast<std::size_t>(q0 + i)];
      for (int j = 0; j < kk; ++j) {
        const std::int32_t id = ids[static_cast<std::size_t>(i * kk + j)];
        if (id < 0) break;
        result.push_back({id, best[static_cast<std::size_t>(i * kk + j)]});
      }
    }
  }
  return out;
}

std::vector<std::vector<Neighbor>> SimilarityIndex::most_similar(const std::vector<std::int32_t>& items, int k) const {
  std::vector<float> queries;
  std::vector<std::vector<std::int32_t>> exclude;
  for (std::int32_t id : items) {
    RECKON_CHECK_ARG(id >= 0 && id < rows_, "item id ", id, " outside [0, ", rows_, ")");
    queries.insert(queries.end(), host_.begin() + id * dim_, host_.begin() + (id + 1) * dim_);
    exclude.push_back({id});
  }
  return top_k(queries, k, exclude);
}

std::vector<std::vector<Neighbor>> SimilarityIndex::recommend(const std::vector<std::vector<std::int32_t>>& contexts,
                                                              int k) const {
  return recommend(contexts, k, contexts);
}

std::vector<std::vector<Neighbor>> SimilarityIndex::recommend(const std::vector<std::vector<std::int32_t>>& contexts,
                                                              int k,
                                                              const std::vector<std::vector<std::int32_t>>& exclude) const {
  std::vector<float> queries(contexts.size() * static_cast<std::size_t>(dim_), 0.0f);
  for (std::size_t q = 0; q < contexts.size(); ++q) {
    RECKON_CHECK_ARG(!contexts[q].empty(), "context ", q, " is empty");
    for (std::int32_t id : contexts[q]) {
      RECKON_CHECK_ARG(id >= 0 && id < rows_, "item id ", id, " outside [0, ", rows_, ")");
      for (std::int64_t d = 0; d < dim_; ++d) queries[q * static_cast<std::size_t>(dim_) + static_cast<std::size_t>(d)] += host_[static_cast<std::size_t>(id * dim_ + d)];
    }
  }
  return top_k(queries, k, exclude);
}

}  // namespace reckon::item2vec
