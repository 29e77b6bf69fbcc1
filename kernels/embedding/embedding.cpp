#include "reckon/kernels/embedding/embedding.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "reckon/config.h"
#include "reckon/kernels/embedding/embedding_math.h"
#include "reckon/runtime/memory.h"

namespace reckon {

const char* to_string(PoolingMode mode) noexcept {
  switch (mode) {
    case PoolingMode::kSum: return "sum";
    case PoolingMode::kMean: return "mean";
    case PoolingMode::kNone: return "none";
  }
  return "?";
}

std::int64_t embedding_bag_output_rows(std::span<const EmbeddingBags> bags, PoolingMode pooling) {
  if (bags.empty()) return 0;
  if (pooling != PoolingMode::kNone) return (bags[0].offsets.numel() - 1) * static_cast<std::int64_t>(bags.size());
  std::int64_t rows = 0;
  for (const EmbeddingBags& b : bags) rows += b.indices.numel();
  return rows;
}

namespace {

struct Validated {
  std::int64_t batch = 0;
  std::int64_t dim = 0;
  DType weight_dtype = DType::kF32;
  DType index_dtype = DType::kI64;
};

Validated validate(const Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                   const TensorView& dst, const EmbeddingBagOptions& options) {
  RECKON_CHECK_ARG(!tables.empty(), "embedding_bag_fwd: no tables");
  RECKON_CHECK_ARG(tables.size() == bags.size(), "embedding_bag_fwd: ", tables.size(), " tables but ", bags.size(),
                   " sets of bags");
  Validated v;
  v.weight_dtype = tables[0].dtype;
  v.index_dtype = bags[0].indices.dtype;
  RECKON_CHECK_ARG(v.weight_dtype == DType::kF32 || v.weight_dtype == DType::kBF16,
                   "embedding tables must be f32 or bf16, got ", tables[0].shape_str());
  RECKON_CHECK_ARG(v.index_dtype == DType::kI32 || v.index_dtype == DType::kI64, "indices must be i32 or i64, got ",
                   bags[0].indices.shape_str());
  RECKON_CHECK_ARG(tables[0].ndim == 2, "table 0 must be [rows, D], got ", tables[0].shape_str());
  v.dim = tables[0].size(1);
  RECKON_CHECK_ARG(v.dim > 0, "embedding dimension must be positive");
  RECKON_CHECK_ARG(bags[0].offsets.ndim == 1 && bags[0].offsets.size(0) >= 1,
                   "offsets of table 0 must be [B + 1], got ", bags[0].offsets.shape_str());
  v.batch = bags[0].offsets.size(0) - 1;
  for (std::size_t t = 0; t < tables.size(); ++t) {
    const TensorView& w = tables[t];
    const EmbeddingBags& b = bags[t];
    RECKON_CHECK_ARG(w.ndim == 2 && w.size(1) == v.dim && w.dtype == v.weight_dtype && w.is_contiguous(),
                     "table ", t, " must be contiguous [rows, ", v.dim, "] ", dtype_name(v.weight_dtype), ", got ",
                     w.shape_str());
    check_device(w, "embedding table", ctx.device());
    RECKON_CHECK_ARG(b.offsets.ndim == 1 && b.offsets.size(0) == v.batch + 1 && b.offsets.dtype == v.index_dtype &&
                         b.offsets.is_contiguous(),
                     "offsets of table ", t, " must be contiguous [", v.batch + 1, "] ", dtype_name(v.index_dtype),
                     ", got ", b.offsets.shape_str());
    RECKON_CHECK_ARG(b.indices.ndim == 1 && b.indices.dtype == v.index_dtype && b.indices.is_contiguous(),
                     "indices of table ", t, " must be contiguous 1-D ", dtype_name(v.index_dtype), ", got ",
                     b.indices.shape_str());
    check_device(b.offsets, "offsets", ctx.device());
    check_device(b.indices, "indices", ctx.device());
    if (b.per_sample_weights.data != nullptr) {
      RECKON_CHECK_ARG(options.pooling == PoolingMode::kSum, "per-sample weights need sum pooling, got ",
                       to_string(options.pooling));
      RECKON_CHECK_ARG(b.per_sample_weights.ndim == 1 && b.per_sample_weights.dtype == DType::kF32 &&
                           b.per_sample_weights.size(0) == b.indices.size(0),
                       "per-sample weights of table ", t, " must be f32 [", b.indices.size(0), "], got ",
                       b.per_sample_weights.shape_str());
      check_device(b.per_sample_weights, "per-sample weights", ctx.device());
    }
    if (options.index_policy == IndexPolicy::kOovRow) {
      RECKON_CHECK_ARG(options.oov_row >= 0 && options.oov_row < w.size(0), "oov_row ", options.oov_row,
                       " is outside table ", t, " (", w.size(0), " rows)");
    }
  }
  const std::int64_t rows = embedding_bag_output_rows(bags, options.pooling);
  RECKON_CHECK_ARG(dst.dtype == DType::kF32 && dst.is_contiguous() && dst.numel() == rows * v.dim,
                   "dst must be contiguous f32 with ", rows, " rows of ", v.dim, " (", to_string(options.pooling),
                   " pooling), got ", dst.shape_str());
  check_device(dst, "dst", ctx.device());
  return v;
}

template <typename IndexT>
std::uint64_t first_bad_offsets(const EmbeddingBags& b, std::int64_t batch, std::uint64_t table) {
  const auto* off = static_cast<const IndexT*>(b.offsets.data);
  const std::int64_t nnz = b.indices.numel();
  for (std::int64_t i = 0; i < batch; ++i) {
    if (off[i] < 0 || off[i] > off[i + 1] || off[i + 1] > nnz) {
      return (table << detail::kErrorKeyShift) | static_cast<std::uint64_t>(i);
    }
  }
  return ~std::uint64_t{0};
}

template <typename WeightT, typename IndexT>
void fwd_cpu(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
             const TensorView& dst, const EmbeddingBagOptions& options, const Validated& v,
             detail::EmbeddingErrors& errors) {
  const auto num_tables = static_cast<std::int64_t>(tables.size());
  const std::int64_t D = v.dim;
  auto* out = static_cast<float*>(dst.data);
  const bool use_oov = options.index_policy == IndexPolicy::kOovRow;
  // Offsets first: a malformed bag would otherwise steer reads outside the index array.
  for (std::int64_t t = 0; t < num_tables; ++t) {
    errors.bad_offsets = std::min(errors.bad_offsets,
                                  first_bad_offsets<IndexT>(bags[static_cast<std::size_t>(t)], v.batch,
                                                            static_cast<std::uint64_t>(t)));
  }
  if (errors.bad_offsets != ~std::uint64_t{0}) return;

  std::vector<std::int64_t> row_base(static_cast<std::size_t>(num_tables), 0);
  for (std::int64_t t = 1; t < num_tables; ++t) {
    row_base[static_cast<std::size_t>(t)] =
        row_base[static_cast<std::size_t>(t - 1)] + bags[static_cast<std::size_t>(t - 1)].indices.numel();
  }
  std::uint64_t bad_index = ~std::uint64_t{0};
  const std::int64_t work = v.batch * num_tables;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static) reduction(min : bad_index)
  for (std::int64_t w = 0; w < work; ++w) {
    const std::int64_t b = w / num_tables;
    const std::int64_t t = w % num_tables;
    const TensorView& table = tables[static_cast<std::size_t>(t)];
    const EmbeddingBags& bag = bags[static_cast<std::size_t>(t)];
    const auto* weights = static_cast<const WeightT*>(table.data);
    const auto* off = static_cast<const IndexT*>(bag.offsets.data);
    const auto* idx = static_cast<const IndexT*>(bag.indices.data);
    const auto* psw = static_cast<const float*>(bag.per_sample_weights.data);
    const std::int64_t rows = table.size(0);
    const std::int64_t start = off[b], end = off[b + 1];
    if (options.pooling == PoolingMode::kNone) {
      for (std::int64_t j = start; j < end; ++j) {
        float* o = out + (row_base[static_cast<std::size_t>(t)] + j) * D;
        const std::int64_t r = detail::resolve_row(idx[j], rows, use_oov, options.oov_row);
        if (r < 0) {
          bad_index = std::min(bad_index, (static_cast<std::uint64_t>(t) << detail::kErrorKeyShift) | static_cast<std::uint64_t>(j));
          std::fill(o, o + D, 0.0f);
          continue;
        }
        for (std::int64_t d = 0; d < D; ++d) o[d] = detail::load_weight(weights + r * D, d);
      }
      continue;
    }
    float* o = out + (b * num_tables + t) * D;
    std::fill(o, o + D, 0.0f);
    for (std::int64_t j = start; j < end; ++j) {
      const std::int64_t r = detail::resolve_row(idx[j], rows, use_oov, options.oov_row);
      if (r < 0) {
        bad_index = std::min(bad_index, (static_cast<std::uint64_t>(t) << detail::kErrorKeyShift) | static_cast<std::uint64_t>(j));
        continue;
      }
      const WeightT* row = weights + r * D;
      if (psw != nullptr) {
        const float s = psw[j];
        for (std::int64_t d = 0; d < D; ++d) o[d] = std::fma(s, detail::load_weight(row, d), o[d]);
      } else {
        for (std::int64_t d = 0; d < D; ++d) o[d] += detail::load_weight(row, d);
      }
    }
    if (options.pooling == PoolingMode::kMean && end > start) {
      const auto count = static_cast<float>(end - start);
      for (std::int64_t d = 0; d < D; ++d) o[d] /= count;
    }
  }
  errors.bad_index = bad_index;
}

template <typename IndexT>
std::int64_t read_index(Context& ctx, const TensorView& indices, std::int64_t position) {
  IndexT value{};
  copy_bytes(ctx, &value, Device::cpu(), static_cast<const IndexT*>(indices.data) + position, indices.device,
             sizeof(IndexT));
  ctx.synchronize();
  return static_cast<std::int64_t>(value);
}

[[noreturn]] void report_bad_index(Context& ctx, std::span<const TensorView> tables,
                                   std::span<const EmbeddingBags> bags, DType index_dtype, std::uint64_t key) {
  const auto t = static_cast<std::size_t>(key >> detail::kErrorKeyShift);
  const auto position = static_cast<std::int64_t>(key & ((std::uint64_t{1} << detail::kErrorKeyShift) - 1));
  const std::int64_t value = index_dtype == DType::kI32 ? read_index<std::int32_t>(ctx, bags[t].indices, position)
                                                        : read_index<std::int64_t>(ctx, bags[t].indices, position);
  RECKON_THROW(StatusCode::kOutOfRange, "embedding_bag_fwd: table ", t, ", index position ", position, ": id ", value,
               " is outside [0, ", tables[t].size(0), ")");
}

}  // namespace

void embedding_bag_fwd(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                       const TensorView& dst, const EmbeddingBagOptions& options) {
  const Validated v = validate(ctx, tables, bags, dst, options);
  RECKON_CHECK_ARG(static_cast<std::uint64_t>(std::max<std::int64_t>(v.batch, 0)) < (std::uint64_t{1} << detail::kErrorKeyShift),
                   "batch too large");
  if (dst.numel() == 0 && v.batch == 0) return;
  detail::EmbeddingErrors errors;
  if (ctx.is_cuda()) {
#if RECKON_WITH_CUDA
    Buffer record = Buffer::on_device(ctx, sizeof(detail::EmbeddingErrors));
    copy_bytes(ctx, record.data(), ctx.device(), &errors, Device::cpu(), sizeof(errors));
    std::int64_t row_base = 0;
    for (std::size_t first = 0; first < tables.size(); first += detail::kMaxTablesPerLaunch) {
      detail::EmbeddingFwdArgs args{};
      args.num_tables = static_cast<int>(std::min<std::size_t>(detail::kMaxTablesPerLaunch, tables.size() - first));
      args.table_offset = static_cast<int>(first);
      args.batch = v.batch;
      args.dim = static_cast<int>(v.dim);
      args.dst_row_stride = static_cast<std::int64_t>(tables.size()) * v.dim;
      args.pooling = options.pooling;
      args.policy = options.index_policy;
      args.oov_row = options.oov_row;
      args.dst = static_cast<float*>(dst.data) + (options.pooling == PoolingMode::kNone ? 0 : first * v.dim);
      for (int k = 0; k < args.num_tables; ++k) {
        const TensorView& w = tables[first + static_cast<std::size_t>(k)];
        const EmbeddingBags& b = bags[first + static_cast<std::size_t>(k)];
        args.tables[k] = {w.data, w.size(0), b.offsets.data, b.indices.data,
                          static_cast<const float*>(b.per_sample_weights.data), b.indices.numel(), row_base};
        row_base += b.indices.numel();
      }
      detail::embedding_bag_fwd_cuda(ctx, args, v.weight_dtype, v.index_dtype,
                                     static_cast<detail::EmbeddingErrors*>(record.data()));
    }
    copy_bytes(ctx, &errors, Device::cpu(), record.data(), ctx.device(), sizeof(errors));
    ctx.synchronize();
#else
    detail::throw_not_compiled("embedding_bag_fwd", "CUDA", __FILE__, __LINE__);
#endif
  } else {
    const bool i32 = v.index_dtype == DType::kI32;
    if (v.weight_dtype == DType::kF32) {
      i32 ? fwd_cpu<float, std::int32_t>(ctx, tables, bags, dst, options, v, errors)
          : fwd_cpu<float, std::int64_t>(ctx, tables, bags, dst, options, v, errors);
    } else {
      i32 ? fwd_cpu<bf16, std::int32_t>(ctx, tables, bags, dst, options, v, errors)
          : fwd_cpu<bf16, std::int64_t>(ctx, tables, bags, dst, options, v, errors);
    }
  }
  if (errors.bad_offsets != ~std::uint64_t{0}) {
    RECKON_THROW(StatusCode::kInvalidArgument, "embedding_bag_fwd: offsets of table ",
                 errors.bad_offsets >> detail::kErrorKeyShift, " are malformed at bag ",
                 errors.bad_offsets & ((std::uint64_t{1} << detail::kErrorKeyShift) - 1),
                 " (offsets must be non-decreasing, start at >= 0 and end at <= the index count)");
  }
  if (errors.bad_index != ~std::uint64_t{0}) report_bad_index(ctx, tables, bags, v.index_dtype, errors.bad_index);
}

}  // namespace reckon
