#include "reckon/kernels/embedding/embedding.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "reckon/config.h"
#include "reckon/kernels/embedding/embedding_impl.h"
#include "reckon/kernels/embedding/embedding_math.h"
#include "reckon/runtime/detail/device_errors.h"
#include "reckon/runtime/detail/prefetch.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/runtime/dispatch.h"
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
                   const TensorView& dst, const EmbeddingBagOptions& options, const char* dst_name = "dst") {
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
    RECKON_CHECK_ARG(w.ndim == 2 && w.size(1) == v.dim && w.dtype == v.weight_dtype && w.row_stride() >= 0,
                     "table ", t, " must be [rows, ", v.dim, "] ", dtype_name(v.weight_dtype),
                     " with unit column stride and row stride >= ", v.dim, ", got ", w.shape_str(), " (strides ",
                     w.ndim >= 1 ? w.stride(0) : 0, ", ", w.ndim >= 2 ? w.stride(1) : 0, ")");
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
  RECKON_CHECK_ARG(dst.dtype == DType::kF32 && dst.is_contiguous() && dst.numel() == rows * v.dim, dst_name,
                   " must be contiguous f32 with ", rows, " rows of ", v.dim, " (", to_string(options.pooling),
                   " pooling), got ", dst.shape_str());
  check_device(dst, dst_name, ctx.device());
  return v;
}

// The first input error of a CPU call, keyed as on the device (runtime/detail/device_errors.h): malformed offsets
// sort before bad ids, then by table and position.
struct EmbeddingErrors {
  std::uint64_t first = detail::kNoDeviceError;
};

template <typename IndexT>
std::uint64_t first_bad_offsets(const void* offsets, std::int64_t nnz, std::int64_t batch, std::uint64_t table) {
  const auto* off = static_cast<const IndexT*>(offsets);
  for (std::int64_t i = 0; i < batch; ++i) {
    if (off[i] < 0 || off[i] > off[i + 1] || off[i + 1] > nnz) {
      return detail::device_error_key(detail::DeviceErrorKind::kMalformedOffsets, static_cast<std::int64_t>(table), i);
    }
  }
  return detail::kNoDeviceError;
}

// A hint only: an out-of-range id is skipped here (the gather reports it).
template <typename WeightT, typename IndexT>
void prefetch_row(const WeightT* weights, IndexT id, std::int64_t rows, std::int64_t stride, std::int64_t dim) {
  const auto r = static_cast<std::int64_t>(id);
  if (r < 0 || r >= rows) return;
  detail::prefetch_span(weights + r * stride, static_cast<std::int64_t>(sizeof(WeightT)) * dim);
}

// Ids ahead whose rows are fetched while the current one is summed: rows are read at random, so several misses
// must be in flight for the gather to run at memory speed rather than at one miss per row.
constexpr std::int64_t kFwdPrefetchDistance = 16;
constexpr std::int64_t kFwdBlock = 512;  // bags of one table per work item

// One table as a forward work item reads it.
template <typename WeightT, typename IndexT>
struct FwdTable {
  const WeightT* weights;
  const IndexT* off;
  const IndexT* idx;
  const float* psw;
  std::int64_t rows, stride, nnz, table;
  bool use_oov;
  std::int64_t oov_row;
};

// A pooled bag: its rows summed (weighted) into `sum` in id order, the GPU's order; rows `kFwdPrefetchDistance` ids
// ahead (below `last`) are fetched meanwhile. Returns the first bad id's key.
template <typename WeightT, typename IndexT>
inline std::uint64_t pool_bag(const FwdTable<WeightT, IndexT>& t, std::int64_t b, std::int64_t last, std::int64_t D,
                              bool mean, float* sum) {
  const std::int64_t start = t.off[b], end = t.off[b + 1];
  std::fill(sum, sum + D, 0.0f);
  std::uint64_t bad = detail::kNoDeviceError;
  for (std::int64_t j = start; j < end; ++j) {
    if (j + kFwdPrefetchDistance < last) {
      prefetch_row(t.weights, t.idx[j + kFwdPrefetchDistance], t.rows, t.stride, D);
    }
    const std::int64_t r = detail::resolve_row(t.idx[j], t.rows, t.use_oov, t.oov_row);
    if (r < 0) {
      bad = std::min(bad, detail::device_error_key(detail::DeviceErrorKind::kIndexOutOfRange, t.table, j));
      continue;
    }
    const WeightT* row = t.weights + r * t.stride;
    if (t.psw != nullptr) {
      const float w = t.psw[j];
      for (std::int64_t d = 0; d < D; ++d) sum[d] = detail::madd(w, detail::load_weight(row, d), sum[d]);
    } else {
      for (std::int64_t d = 0; d < D; ++d) sum[d] += detail::load_weight(row, d);
    }
  }
  if (mean && end > start) {
    const auto count = static_cast<float>(end - start);
    for (std::int64_t d = 0; d < D; ++d) sum[d] /= count;
  }
  return bad;
}

// Bags [b_begin, b_end) of one table (a work item). Pooled: a row of `out` per bag and
// table; not pooled: a row per id, from `out_row` on. Returns the first bad id's key.
template <typename WeightT, typename IndexT>
std::uint64_t gather_table_block(const FwdTable<WeightT, IndexT>& t, std::int64_t b_begin, std::int64_t b_end,
                                 std::int64_t D, const EmbeddingBagOptions& options, std::int64_t num_tables,
                                 std::int64_t out_row, float* out) {
  // Offsets were validated before, so off[b] <= off[b + 1] <= nnz for every bag.
  const std::int64_t first = t.off[b_begin], last = t.off[b_end];
  for (std::int64_t j = first; j < std::min(last, first + kFwdPrefetchDistance); ++j) {
    prefetch_row(t.weights, t.idx[j], t.rows, t.stride, D);
  }
  std::uint64_t bad = detail::kNoDeviceError;
  if (options.pooling != PoolingMode::kNone) {
    const bool mean = options.pooling == PoolingMode::kMean;
    for (std::int64_t b = b_begin; b < b_end; ++b) {
      bad = std::min(bad, pool_bag(t, b, last, D, mean, out + (b * num_tables + t.table) * D));
    }
    return bad;
  }
  for (std::int64_t j = first; j < last; ++j) {
    if (j + kFwdPrefetchDistance < last) {
      prefetch_row(t.weights, t.idx[j + kFwdPrefetchDistance], t.rows, t.stride, D);
    }
    float* o = out + (out_row + j) * D;
    const std::int64_t r = detail::resolve_row(t.idx[j], t.rows, t.use_oov, t.oov_row);
    if (r < 0) {
      bad = std::min(bad, detail::device_error_key(detail::DeviceErrorKind::kIndexOutOfRange, t.table, j));
      std::fill(o, o + D, 0.0f);
      continue;
    }
    const WeightT* row = t.weights + r * t.stride;
    for (std::int64_t d = 0; d < D; ++d) o[d] = detail::load_weight(row, d);
  }
  return bad;
}

template <typename WeightT, typename IndexT>
std::vector<FwdTable<WeightT, IndexT>> fwd_tables(std::span<const TensorView> tables,
                                                  std::span<const EmbeddingBags> bags,
                                                  const EmbeddingBagOptions& options) {
  std::vector<FwdTable<WeightT, IndexT>> out;
  for (std::size_t t = 0; t < tables.size(); ++t) {
    out.push_back({static_cast<const WeightT*>(tables[t].data), static_cast<const IndexT*>(bags[t].offsets.data),
                   static_cast<const IndexT*>(bags[t].indices.data),
                   static_cast<const float*>(bags[t].per_sample_weights.data), tables[t].size(0),
                   tables[t].row_stride(), bags[t].indices.numel(), static_cast<std::int64_t>(t),
                   options.index_policy == IndexPolicy::kOovRow, options.oov_row});
  }
  return out;
}

template <typename WeightT, typename IndexT>
void fwd_cpu(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
             const TensorView& dst, const EmbeddingBagOptions& options, const Validated& v,
             EmbeddingErrors& errors) {
  const auto num_tables = static_cast<std::int64_t>(tables.size());
  const std::int64_t D = v.dim;
  auto* out = static_cast<float*>(dst.data);
  // Offsets first: a malformed bag would otherwise steer reads outside the index array.
  for (std::int64_t t = 0; t < num_tables; ++t) {
    errors.first = std::min(errors.first, first_bad_offsets<IndexT>(bags[static_cast<std::size_t>(t)].offsets.data,
                                                                    bags[static_cast<std::size_t>(t)].indices.numel(),
                                                                    v.batch, static_cast<std::uint64_t>(t)));
  }
  if (errors.first != detail::kNoDeviceError) return;
  const std::vector<FwdTable<WeightT, IndexT>> slices = fwd_tables<WeightT, IndexT>(tables, bags, options);
  std::int64_t total_ids = 0;
  std::vector<std::int64_t> row_base;  // pooling none: each table's first output row
  for (const auto& t : slices) {
    row_base.push_back(total_ids);
    total_ids += t.nnz;
  }
  std::uint64_t bad_index = ~std::uint64_t{0};
  // Work items are blocks of bags of one table, so the table's pointers are loaded once per block and a block's
  // rows can be fetched ahead.
  const std::int64_t blocks_per_table = (v.batch + kFwdBlock - 1) / kFwdBlock;
  const std::int64_t work = blocks_per_table * num_tables;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static) reduction(min : bad_index)
  for (std::int64_t w = 0; w < work; ++w) {
    const std::int64_t t = w / blocks_per_table;
    const std::int64_t b_begin = (w % blocks_per_table) * kFwdBlock;
    bad_index = std::min(bad_index, gather_table_block(slices[static_cast<std::size_t>(t)], b_begin,
                                                       std::min(v.batch, b_begin + kFwdBlock), D, options,
                                                       num_tables, row_base[static_cast<std::size_t>(t)], out));
  }
  errors.first = bad_index;
}

// What the resolve step reads of a call's tables, chunk by chunk (ids and rows), in order, the last marked.
std::vector<detail::ErrorOperands> error_operands(std::span<const TensorView> tables,
                                                  std::span<const EmbeddingBags> bags, DType index_dtype,
                                                  detail::DeviceOp op) {
  std::vector<detail::ErrorOperands> chunks;
  for (std::size_t first = 0; first < tables.size(); first += detail::kMaxErrorOperands) {
    detail::ErrorOperands& o = chunks.emplace_back();
    o.op = op;
    o.first_operand = static_cast<int>(first);
    o.count = static_cast<int>(std::min<std::size_t>(detail::kMaxErrorOperands, tables.size() - first));
    o.ids_i64 = index_dtype == DType::kI64;
    o.last = first + static_cast<std::size_t>(o.count) == tables.size();
    for (int k = 0; k < o.count; ++k) {
      o.ids[k] = bags[first + static_cast<std::size_t>(k)].indices.data;
      o.stride[k] = 1;
      o.limit[k] = tables[first + static_cast<std::size_t>(k)].size(0);
    }
  }
  return chunks;
}

// A CPU call's first error, resolved as on the device (the ids are host memory here) and raised with its words.
void throw_if_errors(std::span<const TensorView> tables, std::span<const EmbeddingBags> bags, DType index_dtype,
                     const EmbeddingErrors& errors, detail::DeviceOp op) {
  if (errors.first == detail::kNoDeviceError) return;
  detail::DeviceErrorRecord record;
  record.key = errors.first;
  for (const detail::ErrorOperands& chunk : error_operands(tables, bags, index_dtype, op)) {
    detail::resolve_device_error_record(record, chunk);
  }
  detail::throw_device_error(record, __FILE__, __LINE__);
}


}  // namespace

namespace {

struct FwdProblem {
  std::span<const TensorView> tables;
  std::span<const EmbeddingBags> bags;
  const TensorView& dst;
  const EmbeddingBagOptions& options;
  Validated v;
};

#if RECKON_WITH_CUDA
void fwd_cuda(Context& ctx, const FwdProblem& p, int vec) {
  detail::DeviceErrorRecord* record = detail::device_error_record(ctx);
  // Resolved once, after every chunk's kernel has min-merged its errors: the first error by (kind, table,
  // position) is then the one reported, as on the CPU.
  detail::ResolveAtExit resolve(ctx, error_operands(p.tables, p.bags, p.v.index_dtype,
                                                    detail::DeviceOp::kEmbeddingBagFwd));
  std::int64_t row_base = 0;
  for (std::size_t first = 0; first < p.tables.size(); first += detail::kMaxTablesPerLaunch) {
    detail::EmbeddingFwdArgs args{};
    args.num_tables = static_cast<int>(std::min<std::size_t>(detail::kMaxTablesPerLaunch, p.tables.size() - first));
    args.table_offset = static_cast<int>(first);
    args.batch = p.v.batch;
    args.dim = static_cast<int>(p.v.dim);
    args.dst_row_stride = static_cast<std::int64_t>(p.tables.size()) * p.v.dim;
    args.pooling = p.options.pooling;
    args.policy = p.options.index_policy;
    args.oov_row = p.options.oov_row;
    args.dst = static_cast<float*>(p.dst.data) + (p.options.pooling == PoolingMode::kNone ? 0 : first * p.v.dim);
    for (int k = 0; k < args.num_tables; ++k) {
      const TensorView& w = p.tables[first + static_cast<std::size_t>(k)];
      const EmbeddingBags& b = p.bags[first + static_cast<std::size_t>(k)];
      args.tables[k] = {w.data, w.size(0), w.row_stride(), b.offsets.data, b.indices.data,
                        static_cast<const float*>(b.per_sample_weights.data), b.indices.numel(), row_base};
      row_base += b.indices.numel();
    }
    detail::embedding_bag_fwd_cuda(ctx, args, p.v.weight_dtype, p.v.index_dtype, record, vec);
  }
  resolve.finish();
  detail::after_device_op(ctx);
}
#endif

// 16-byte vectors need whole vectors per row and aligned rows: every table (and its row stride) and the output
// (each bag's slice of it is D floats from a 16-byte aligned base when D % 4 == 0).
Status fwd_vec4_supported(const Context& ctx, const FwdProblem& p) {
  if (Status s = requires_cuda_context(ctx); !s.is_ok()) return s;
  if (p.v.dim % 4 != 0) return {StatusCode::kUnsupported, detail::concat("D = ", p.v.dim, " is not a multiple of 4")};
  if (reinterpret_cast<std::uintptr_t>(p.dst.data) % 16 != 0) return {StatusCode::kUnsupported, "dst is not 16-byte aligned"};
  const std::size_t vector_bytes = 4 * dtype_size(p.v.weight_dtype);
  for (std::size_t t = 0; t < p.tables.size(); ++t) {
    if (reinterpret_cast<std::uintptr_t>(p.tables[t].data) % vector_bytes != 0 || p.tables[t].row_stride() % 4 != 0) {
      return {StatusCode::kUnsupported, detail::concat("table ", t, "'s rows are not ", vector_bytes, "-byte aligned")};
    }
  }
  return Status::ok();
}

void fwd_cpu_run(Context& ctx, const FwdProblem& p) {
  EmbeddingErrors errors;
  const bool i32 = p.v.index_dtype == DType::kI32;
  if (p.v.weight_dtype == DType::kF32) {
    i32 ? fwd_cpu<float, std::int32_t>(ctx, p.tables, p.bags, p.dst, p.options, p.v, errors)
        : fwd_cpu<float, std::int64_t>(ctx, p.tables, p.bags, p.dst, p.options, p.v, errors);
  } else {
    i32 ? fwd_cpu<bf16, std::int32_t>(ctx, p.tables, p.bags, p.dst, p.options, p.v, errors)
        : fwd_cpu<bf16, std::int64_t>(ctx, p.tables, p.bags, p.dst, p.options, p.v, errors);
  }
  throw_if_errors(p.tables, p.bags, p.v.index_dtype, errors, detail::DeviceOp::kEmbeddingBagFwd);
}

#if RECKON_WITH_CUDA
void fwd_cuda_vec4(Context& ctx, const FwdProblem& p) { fwd_cuda(ctx, p, 4); }
void fwd_cuda_scalar(Context& ctx, const FwdProblem& p) { fwd_cuda(ctx, p, 1); }
#else
void fwd_cuda_vec4(Context&, const FwdProblem&) {}
void fwd_cuda_scalar(Context&, const FwdProblem&) {}
#endif

const ImplementationList<FwdProblem, 3> kFwdImplementations{
    "embedding_bag_fwd",
    {{{"cuda_vec4", "a CUDA context; D % 4 == 0; 16-byte aligned table rows (8-byte for bf16) and dst",
       fwd_vec4_supported, fwd_cuda_vec4},
      {"cuda_scalar", "a CUDA context", [](const Context& c, const FwdProblem&) { return requires_cuda_context(c); },
       fwd_cuda_scalar},
      {"cpu", "a CPU context", [](const Context& c, const FwdProblem&) { return requires_cpu_context(c); },
       fwd_cpu_run}}}};

}  // namespace

void embedding_bag_fwd(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                       const TensorView& dst, const EmbeddingBagOptions& options) {
  const Validated v = validate(ctx, tables, bags, dst, options);
  RECKON_CHECK_ARG(static_cast<std::uint64_t>(std::max<std::int64_t>(v.batch, 0)) <
                       (std::uint64_t{1} << detail::kErrorPositionBits),
                   "batch too large");
  if (dst.numel() == 0 && v.batch == 0) return;
  dispatch(ctx, kFwdImplementations, FwdProblem{tables, bags, dst, options, v});
}

std::int64_t embedding_interleaved_row_stride(std::int64_t dim, std::int64_t state_columns) {
  RECKON_CHECK_ARG(dim >= 1 && state_columns >= 0, "embedding_interleaved_row_stride: dim ", dim, ", state columns ",
                   state_columns);
  const std::int64_t width = dim + state_columns;
  if (width > 16) return (width + 15) / 16 * 16;
  std::int64_t stride = 1;
  while (stride < width) stride *= 2;
  return stride;
}

Status embedding_bag_bwd_supported(std::int64_t dim, DType table_dtype, const SparseOptimizer* optimizer,
                                   EmbeddingBackwardAlgorithm algorithm) {
  if (dim > kEmbeddingBackwardMaxDim) {
    return {StatusCode::kUnsupported,
            detail::concat("the embedding backward handles D <= ", kEmbeddingBackwardMaxDim,
                           " (one gradient row per thread group is staged in shared memory); got D = ", dim)};
  }
  if (optimizer != nullptr && table_dtype != DType::kF32) {
    return {StatusCode::kUnsupported,
            detail::concat("fused optimizer updates need f32 tables; ", dtype_name(table_dtype),
                           " tables are read-only here (use embedding_bag_bwd for their gradient)")};
  }
  if (algorithm == EmbeddingBackwardAlgorithm::kAtomic) {
    if (optimizer == nullptr || optimizer->kind != SparseOptimizerKind::kSgd || optimizer->weight_decay != 0.0f) {
      return {StatusCode::kUnsupported,
              "the atomic backward applies plain SGD only (atomic adds of -lr * gradient are exact for SGD alone); "
              "use the sorted algorithm"};
    }
  }
  return Status::ok();
}

namespace {

struct BwdSetup {
  Validated v;
  std::vector<detail::EmbeddingBwdTable> tables;
  detail::EmbeddingBwdProblem problem{};
};

void check_state(const TensorView& s, const char* name, std::size_t t, std::int64_t rows, std::int64_t dim,
                 const Context& ctx) {
  const bool ok = s.data != nullptr && s.dtype == DType::kF32 && s.row_stride() >= 0 &&
                  ((dim > 0 && s.ndim == 2 && s.size(0) == rows && s.size(1) == dim) ||
                   (dim == 0 && s.ndim == 1 && s.size(0) == rows));
  RECKON_CHECK_ARG(ok, "optimizer ", name, " of table ", t, " must be f32 [", rows,
                   dim > 0 ? detail::concat(", ", dim) : std::string(), "] with unit column stride, got ",
                   s.data == nullptr ? std::string("nothing") : s.shape_str());
  check_device(s, name, ctx.device());
}

BwdSetup prepare_bwd(const Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                     const TensorView& diff_dst, const EmbeddingBagOptions& options, const SparseOptimizer* optimizer,
                     std::span<const EmbeddingOptimizerState> states, EmbeddingBackwardAlgorithm algorithm) {
  BwdSetup s;
  s.v = validate(ctx, tables, bags, diff_dst, options, "diff_dst");
  RECKON_THROW_IF_ERROR(embedding_bag_bwd_supported(s.v.dim, s.v.weight_dtype, optimizer, algorithm));
  if (optimizer != nullptr) {
    RECKON_CHECK_ARG(states.size() == tables.size() || optimizer->kind == SparseOptimizerKind::kSgd,
                     "embedding_bag_bwd_update: ", tables.size(), " tables but ", states.size(), " optimizer states");
  }
  std::int64_t row_base = 0, entry_base = 0;
  for (std::size_t t = 0; t < tables.size(); ++t) {
    detail::EmbeddingBwdTable bt{};
    bt.rows = tables[t].size(0);
    bt.row_base = row_base;
    bt.offsets = bags[t].offsets.data;
    bt.indices = bags[t].indices.data;
    bt.per_sample_weights = static_cast<const float*>(bags[t].per_sample_weights.data);
    bt.nnz = bags[t].indices.numel();
    bt.entry_base = entry_base;
    bt.out_row_base = entry_base;
    if (optimizer != nullptr) {
      bt.weights = static_cast<float*>(tables[t].data);
      switch (optimizer->kind) {
        case SparseOptimizerKind::kSgd: break;
        case SparseOptimizerKind::kAdagrad:
          check_state(states[t].state1, "state1 (sum of squares)", t, bt.rows, s.v.dim, ctx);
          break;
        case SparseOptimizerKind::kRowwiseAdagrad:
          check_state(states[t].state1, "state1 (row sum of squares)", t, bt.rows, 0, ctx);
          break;
        case SparseOptimizerKind::kAdam:
          check_state(states[t].state1, "state1 (first moment)", t, bt.rows, s.v.dim, ctx);
          check_state(states[t].state2, "state2 (second moment)", t, bt.rows, s.v.dim, ctx);
          break;
      }
      bt.weight_stride = tables[t].row_stride();
      if (t < states.size()) {
        bt.state1 = static_cast<float*>(states[t].state1.data);
        bt.state2 = static_cast<float*>(states[t].state2.data);
        if (bt.state1 != nullptr) bt.state1_stride = states[t].state1.row_stride();
        if (bt.state2 != nullptr) bt.state2_stride = states[t].state2.row_stride();
      }
    }
    row_base += bt.rows;
    entry_base += bt.nnz;
    s.tables.push_back(bt);
  }
  RECKON_CHECK_ARG(entry_base < (std::int64_t{1} << 31), "embedding backward: ", entry_base,
                   " ids in one call; at most 2^31 - 1 are supported");
  s.problem.tables = s.tables.data();
  s.problem.num_tables = static_cast<int>(tables.size());
  s.problem.batch = s.v.batch;
  s.problem.dim = static_cast<int>(s.v.dim);
  s.problem.total_rows = row_base;
  s.problem.total_entries = entry_base;
  s.problem.pooling = options.pooling;
  s.problem.policy = options.index_policy;
  s.problem.oov_row = options.oov_row;
  s.problem.diff_dst = static_cast<const float*>(diff_dst.data);
  return s;
}

// Rows ahead to prefetch in the update: each row is three scattered cache lines (row, m, v) under Adam. On the
// 2-core build machine 8 to 32 rows ahead measured within the noise of one another; 4 was slower (docs/PERF.md).
constexpr std::size_t kBwdPrefetchDistance = 16;
// Bags ahead whose pooled gradient rows are prefetched while a table's gradient is accumulated.
constexpr std::int64_t kGradientPrefetchBags = 16;

// Read prefetches, although the lines are then written: PREFETCHW is not in the portable build's instruction set,
// and on the build machine it measured no faster than PREFETCHT0 for this update.
void prefetch_update_row(const detail::EmbeddingBwdTable& t, std::int64_t r, int dim, SparseOptimizerKind kind) {
  const std::int64_t bytes = std::int64_t{4} * dim;
  detail::prefetch_span(t.weights + r * t.weight_stride, bytes);
  if (kind == SparseOptimizerKind::kRowwiseAdagrad) detail::prefetch_read(t.state1 + r * t.state1_stride);
  if (kind == SparseOptimizerKind::kAdagrad || kind == SparseOptimizerKind::kAdam) {
    detail::prefetch_span(t.state1 + r * t.state1_stride, bytes);
  }
  if (kind == SparseOptimizerKind::kAdam) detail::prefetch_span(t.state2 + r * t.state2_stride, bytes);
}

// Apply the optimizer to row r of table t; g holds the row's gradient and is overwritten with g'.
void update_row_cpu(const detail::OptimizerScalars& u, const detail::EmbeddingBwdTable& t, std::int64_t r,
                    int dim, float* g) {
  float* w = t.weights + r * t.weight_stride;
  for (int d = 0; d < dim; ++d) g[d] = detail::regularised_gradient(u, g[d], w[d]);
  float denom = 0.0f;
  if (u.kind == SparseOptimizerKind::kRowwiseAdagrad) {
    float sum_squares = 0.0f;
    for (int d = 0; d < dim; ++d) sum_squares = detail::madd(g[d], g[d], sum_squares);
    float& row_state = t.state1[r * t.state1_stride];
    const float state = detail::rowwise_state(row_state, sum_squares, dim);
    row_state = state;
    denom = detail::rowwise_denominator(u, state);
  }
  // One loop per optimizer, so the column loop has no branch and vectorises.
  switch (u.kind) {
    case OptimizerKind::kSgd:
      for (int d = 0; d < dim; ++d) w[d] = detail::sgd_step(u, g[d], detail::decayed_weight(u, w[d]));
      break;
    case OptimizerKind::kRowwiseAdagrad:
      for (int d = 0; d < dim; ++d) w[d] = detail::rowwise_step(u, g[d], detail::decayed_weight(u, w[d]), denom);
      break;
    case OptimizerKind::kAdagrad: {
      float* s1 = t.state1 + r * t.state1_stride;
      for (int d = 0; d < dim; ++d) w[d] = detail::adagrad_step(u, g[d], detail::decayed_weight(u, w[d]), s1[d]);
      break;
    }
    case OptimizerKind::kAdam: {
      float* s1 = t.state1 + r * t.state1_stride;
      float* s2 = t.state2 + r * t.state2_stride;
      for (int d = 0; d < dim; ++d) w[d] = detail::adam_step(u, g[d], detail::decayed_weight(u, w[d]), s1[d], s2[d]);
      break;
    }
  }
}

// The first out-of-range id in (table, position) order, as a device-error key (kNoDeviceError when none).
template <typename IndexT>
std::uint64_t first_bad_id(Context& ctx, const detail::EmbeddingBwdProblem& p) {
  std::uint64_t bad_index = detail::kNoDeviceError;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(dynamic, 1) reduction(min : bad_index)
  for (int t = 0; t < p.num_tables; ++t) {
    const auto& bt = p.tables[t];
    const auto* off = static_cast<const IndexT*>(bt.offsets);
    const auto* idx = static_cast<const IndexT*>(bt.indices);
    const auto rows = static_cast<std::uint64_t>(bt.rows);
    for (std::int64_t j = off[0]; j < off[p.batch]; ++j) {
      if (static_cast<std::uint64_t>(static_cast<std::int64_t>(idx[j])) >= rows) {  // negative ids wrap to huge
        bad_index = std::min(bad_index, detail::device_error_key(detail::DeviceErrorKind::kIndexOutOfRange, t, j));
        break;
      }
    }
  }
  return bad_index;
}

// One table's accumulated gradient: its touched rows and their rows of values.
struct TableGradient {
  std::vector<std::int64_t> rows;
  std::vector<float> values;  // rows.size() x D
};

// The tables' gradients as one row-sparse gradient, tables in order.
void write_sparse_gradient(Context& ctx, const std::vector<TableGradient>& results, int D, SparseGradient& gradient) {
  std::int64_t total = 0;
  for (const TableGradient& r : results) total += static_cast<std::int64_t>(r.rows.size());
  gradient.table = Tensor::empty(ctx, DType::kI32, {total});
  gradient.row = Tensor::empty(ctx, DType::kI64, {total});
  gradient.values = Tensor::empty(ctx, DType::kF32, {total, D});
  gradient.count = Tensor::empty(ctx, DType::kI64, {1});
  *gradient.count.data<std::int64_t>() = total;
  std::int64_t at = 0;
  for (std::size_t t = 0; t < results.size(); ++t) {
    const TableGradient& r = results[t];
    std::fill_n(gradient.table.data<std::int32_t>() + at, r.rows.size(), static_cast<std::int32_t>(t));
    std::copy(r.rows.begin(), r.rows.end(), gradient.row.data<std::int64_t>() + at);
    std::copy(r.values.begin(), r.values.end(), gradient.values.data<float>() + at * D);
    at += static_cast<std::int64_t>(r.rows.size());
  }
}

// Visits table t's entries bag by bag (entry order): fn(row, diff_dst row, coefficient). With prefetch, the
// gradient rows of the bag kGradientPrefetchBags ahead are fetched: pooled, a table's rows of diff_dst are num_tables
// rows apart (2.5 KB for DeepFM's 39 fields), a stride the hardware prefetchers do not follow.
template <typename IndexT, typename Fn>
void for_each_entry(const detail::EmbeddingBwdProblem& p, int t, Fn&& fn, bool prefetch = false) {
  const auto& bt = p.tables[t];
  const bool use_oov = p.policy == IndexPolicy::kOovRow;
  const auto* off = static_cast<const IndexT*>(bt.offsets);
  const auto* idx = static_cast<const IndexT*>(bt.indices);
  for (std::int64_t b = 0; b < p.batch; ++b) {
    if (prefetch && p.pooling != PoolingMode::kNone && b + kGradientPrefetchBags < p.batch) {
      detail::prefetch_span(p.diff_dst + ((b + kGradientPrefetchBags) * p.num_tables + t) * p.dim,
                            static_cast<std::int64_t>(p.dim) * 4);
    }
    const std::int64_t start = off[b], end = off[b + 1];
    for (std::int64_t j = start; j < end; ++j) {
      const std::int64_t r = detail::resolve_row(idx[j], bt.rows, use_oov, p.oov_row);
      const std::int64_t diff_row = p.pooling == PoolingMode::kNone ? bt.out_row_base + j : b * p.num_tables + t;
      fn(r, diff_row, detail::entry_coefficient(p.pooling, bt.per_sample_weights, j, end - start));
    }
  }
}

// Per-thread scratch of the sorted backward, reused across a thread's tables.
struct BwdScratch {
  TableGradient local;
  std::vector<std::int32_t> long_index, seen;
  std::vector<float> partials;
};

// One table of the sorted backward: count each row's occurrences, give touched rows compact slots, then accumulate
// in entry order - the k-th occurrence of a row is its k-th entry, so this is exactly the order the sort-based CUDA
// path uses (sequential for runs of at most kEmbeddingLongRun, partial k mod P beyond). `slot` holds the per-row
// counters, all zero on entry and on return (only touched rows are reset), so the work is O(entries). With an
// update the rows step in first-touch order; otherwise `out` lists them sorted with their gradients.
template <typename IndexT>
void bwd_sorted_table(const detail::EmbeddingBwdProblem& p, int t, const detail::OptimizerScalars* update,
                      std::vector<std::int32_t>& slot, BwdScratch& s, TableGradient& out) {
  const auto& bt = p.tables[t];
  const int D = p.dim;
  const bool listed = update == nullptr;
  if (slot.size() < static_cast<std::size_t>(bt.rows)) slot.resize(static_cast<std::size_t>(bt.rows), 0);
  out.rows.clear();
  for_each_entry<IndexT>(p, t, [&](std::int64_t r, std::int64_t, float) {
    if (slot[static_cast<std::size_t>(r)]++ == 0) out.rows.push_back(r);
  });
  if (listed) std::sort(out.rows.begin(), out.rows.end());
  s.long_index.clear();
  std::int32_t long_rows = 0;
  for (std::size_t sl = 0; sl < out.rows.size(); ++sl) {
    std::int32_t& count = slot[static_cast<std::size_t>(out.rows[sl])];
    s.long_index.push_back(count > kEmbeddingLongRun ? long_rows++ : -1);
    count = static_cast<std::int32_t>(sl + 1);
  }
  out.values.assign(out.rows.size() * static_cast<std::size_t>(D), 0.0f);
  s.partials.assign(static_cast<std::size_t>(long_rows) * kEmbeddingRunPartials * static_cast<std::size_t>(D), 0.0f);
  s.seen.assign(out.rows.size(), 0);
  for_each_entry<IndexT>(p, t, [&](std::int64_t r, std::int64_t diff_row, float c) {
    const auto sl = static_cast<std::size_t>(slot[static_cast<std::size_t>(r)] - 1);
    const std::int32_t k = s.seen[sl]++;
    const float* src = p.diff_dst + diff_row * D;
    float* acc = s.long_index[sl] < 0
                     ? out.values.data() + sl * static_cast<std::size_t>(D)
                     : s.partials.data() + (static_cast<std::size_t>(s.long_index[sl]) * kEmbeddingRunPartials +
                                            static_cast<std::size_t>(k % kEmbeddingRunPartials)) *
                                               static_cast<std::size_t>(D);
    for (int d = 0; d < D; ++d) acc[d] = detail::madd(c, src[d], acc[d]);
  }, /*prefetch=*/true);
  for (const std::int64_t r : out.rows) slot[static_cast<std::size_t>(r)] = 0;
  for (std::size_t sl = 0; sl < out.rows.size(); ++sl) {
    // The update reads and writes the row and its optimizer state at scattered rows: fetch a few rows ahead.
    if (!listed && sl + kBwdPrefetchDistance < out.rows.size()) {
      prefetch_update_row(bt, out.rows[sl + kBwdPrefetchDistance], D, update->kind);
    }
    float* g = out.values.data() + sl * static_cast<std::size_t>(D);
    if (s.long_index[sl] >= 0) {
      const float* part = s.partials.data() + static_cast<std::size_t>(s.long_index[sl]) * kEmbeddingRunPartials *
                                                  static_cast<std::size_t>(D);
      for (int d = 0; d < D; ++d) {
        float sum = part[d];
        for (int q = 1; q < kEmbeddingRunPartials; ++q) sum = detail::add_rn(sum, part[q * D + d]);
        g[d] = sum;
      }
    }
    if (!listed) update_row_cpu(*update, bt, out.rows[sl], D, g);
  }
}

template <typename IndexT>
void bwd_cpu(Context& ctx, const BwdSetup& setup, const detail::OptimizerScalars* update,
             EmbeddingBackwardAlgorithm algorithm, SparseGradient* gradient, EmbeddingErrors& errors) {
  const detail::EmbeddingBwdProblem& p = setup.problem;
  const int D = p.dim;
  for (int t = 0; t < p.num_tables; ++t) {
    const auto& bt = p.tables[t];
    errors.first = std::min(errors.first, first_bad_offsets<IndexT>(bt.offsets, bt.nnz, p.batch, static_cast<std::uint64_t>(t)));
  }
  if (errors.first != detail::kNoDeviceError) return;
  // Every id is checked before anything is written, so a bad one leaves tables and state untouched.
  if (p.policy != IndexPolicy::kOovRow) errors.first = first_bad_id<IndexT>(ctx, p);
  if (errors.first != detail::kNoDeviceError) return;

  if (algorithm == EmbeddingBackwardAlgorithm::kAtomic) {
    // Entry order on the CPU (the CUDA version's order is whatever the atomics make it).
    for (int t = 0; t < p.num_tables; ++t) {
      const auto& bt = p.tables[t];
      for_each_entry<IndexT>(p, t, [&](std::int64_t r, std::int64_t diff_row, float c) {
        float* w = bt.weights + r * bt.weight_stride;
        const float* src = p.diff_dst + diff_row * D;
        for (int d = 0; d < D; ++d) w[d] = detail::add_rn(w[d], detail::mul_rn(update->neg_lr, detail::mul_rn(c, src[d])));
      });
    }
    return;
  }
  // Tables in parallel; the per-row counters live in a per-thread array kept zeroed between tables.
  std::vector<TableGradient> results(gradient != nullptr ? static_cast<std::size_t>(p.num_tables) : 0);
#pragma omp parallel num_threads(ctx.cpu_threads())
  {
    // Per thread and kept between calls: fresh buffers of this size would fault in zeroed pages on every step.
    thread_local std::vector<std::int32_t> slot;
    thread_local BwdScratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < p.num_tables; ++t) {
      TableGradient& out = gradient != nullptr ? results[static_cast<std::size_t>(t)] : scratch.local;
      bwd_sorted_table<IndexT>(p, t, gradient != nullptr ? nullptr : update, slot, scratch, out);
    }
  }
  if (gradient != nullptr) write_sparse_gradient(ctx, results, D, *gradient);
}

struct BwdProblem {
  std::span<const TensorView> tables;
  std::span<const EmbeddingBags> bags;
  const BwdSetup& setup;
  const detail::OptimizerScalars* update;  // null: the gradient only
  EmbeddingBackwardAlgorithm algorithm;
  SparseGradient* gradient;
  detail::DeviceOp op;
};

void bwd_cuda(Context& ctx, const BwdProblem& p) {
#if RECKON_WITH_CUDA
  detail::ResolveAtExit resolve(ctx, error_operands(p.tables, p.bags, p.setup.v.index_dtype, p.op));
  detail::embedding_bag_bwd_cuda(ctx, p.setup.problem, p.setup.tables, p.setup.v.index_dtype, p.update, p.algorithm,
                                 p.gradient);
  resolve.finish();
  detail::after_device_op(ctx);
#else
  (void)ctx, (void)p;
#endif
}

void bwd_cpu_run(Context& ctx, const BwdProblem& p) {
  EmbeddingErrors errors;
  detail::OptimizerScalars clocked{};  // a CPU context's clock is host memory, read here
  if (p.update != nullptr) clocked = detail::clocked(*p.update);
  const detail::OptimizerScalars* update = p.update != nullptr ? &clocked : nullptr;
  if (p.setup.v.index_dtype == DType::kI32) {
    bwd_cpu<std::int32_t>(ctx, p.setup, update, p.algorithm, p.gradient, errors);
  } else {
    bwd_cpu<std::int64_t>(ctx, p.setup, update, p.algorithm, p.gradient, errors);
  }
  throw_if_errors(p.tables, p.bags, p.setup.v.index_dtype, errors, p.op);
}

Status requires_algorithm(const BwdProblem& p, EmbeddingBackwardAlgorithm wanted) {
  if (p.algorithm == wanted) return Status::ok();
  return {StatusCode::kUnsupported, wanted == EmbeddingBackwardAlgorithm::kAtomic ? "the call asks for the sorted algorithm"
                                                                                 : "the call asks for the atomic algorithm"};
}

// The same kernels serve the gradient and the fused update; the algorithm is the caller's choice (atomic: SGD only,
// not deterministic, checked by prepare_bwd).
constexpr ImplementationList<BwdProblem, 3> bwd_implementations(const char* op) {
  return {op, {{{"cuda_sorted", "a CUDA context; the sorted algorithm (radix sort of ids, a reduction per run)",
       [](const Context& c, const BwdProblem& p) {
         Status s = requires_cuda_context(c);
         return s.is_ok() ? requires_algorithm(p, EmbeddingBackwardAlgorithm::kSorted) : s;
       },
       bwd_cuda},
      {"cuda_atomic", "a CUDA context; the atomic algorithm (SGD by atomic adds, no sort)",
       [](const Context& c, const BwdProblem& p) {
         Status s = requires_cuda_context(c);
         return s.is_ok() ? requires_algorithm(p, EmbeddingBackwardAlgorithm::kAtomic) : s;
       },
       bwd_cuda},
      {"cpu", "a CPU context (either algorithm)",
       [](const Context& c, const BwdProblem&) { return requires_cpu_context(c); }, bwd_cpu_run}}}};
}
const auto kBwdGradientImplementations = bwd_implementations("embedding_bag_bwd");
const auto kBwdUpdateImplementations = bwd_implementations("embedding_bag_bwd_update");

void run_bwd(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
             const BwdSetup& setup, const detail::OptimizerScalars* update, EmbeddingBackwardAlgorithm algorithm,
             SparseGradient* gradient, detail::DeviceOp op) {
  if (setup.problem.batch == 0) {
    if (gradient != nullptr) {
      gradient->table = Tensor::empty(ctx, DType::kI32, {0});
      gradient->row = Tensor::empty(ctx, DType::kI64, {0});
      gradient->values = Tensor::empty(ctx, DType::kF32, {0, setup.v.dim});
      gradient->count = Tensor::empty(ctx, DType::kI64, {1});
      const std::int64_t none = 0;  // a pageable source is staged before the copy call returns
      copy_bytes(ctx, gradient->count.data<std::int64_t>(), ctx.device(), &none, Device::cpu(), sizeof(none));
    }
    return;
  }
  dispatch(ctx, update != nullptr ? kBwdUpdateImplementations : kBwdGradientImplementations,
           BwdProblem{tables, bags, setup, update, algorithm, gradient, op});
}

}  // namespace

std::int64_t SparseGradient::num_rows(Context& ctx) const {
  std::int64_t rows = 0;
  copy_bytes(ctx, &rows, Device::cpu(), count.data<std::int64_t>(), count.device(), sizeof(rows));
  ctx.synchronize();
  return rows;
}

SparseGradient embedding_bag_bwd(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                                 const TensorView& diff_dst, const EmbeddingBagOptions& options) {
  const BwdSetup setup = prepare_bwd(ctx, tables, bags, diff_dst, options, nullptr, {},
                                     EmbeddingBackwardAlgorithm::kSorted);
  SparseGradient gradient;
  run_bwd(ctx, tables, bags, setup, nullptr, EmbeddingBackwardAlgorithm::kSorted, &gradient,
          detail::DeviceOp::kEmbeddingBagBwd);
  return gradient;
}

void embedding_bag_bwd_update(Context& ctx, std::span<const TensorView> tables, std::span<const EmbeddingBags> bags,
                              const TensorView& diff_dst, const EmbeddingBagOptions& options,
                              const SparseOptimizer& optimizer, std::span<const EmbeddingOptimizerState> states,
                              EmbeddingBackwardAlgorithm algorithm) {
  const BwdSetup setup = prepare_bwd(ctx, tables, bags, diff_dst, options, &optimizer, states, algorithm);
  const detail::OptimizerScalars update = detail::optimizer_scalars(optimizer, "embedding_bag_bwd_update");
  run_bwd(ctx, tables, bags, setup, &update, algorithm, nullptr, detail::DeviceOp::kEmbeddingBagBwdUpdate);
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> embedding_ops() {
  return {describe(kFwdImplementations), describe(kBwdGradientImplementations), describe(kBwdUpdateImplementations)};
}
}  // namespace reckon::detail
