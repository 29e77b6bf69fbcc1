#include "reckon/kernels/fm/fm.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "reckon/config.h"
#include "reckon/kernels/fm/fm_impl.h"
#include "reckon/kernels/fm/fm_math.h"
#include "reckon/runtime/detail/device_errors.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/memory.h"

namespace reckon {
namespace {


struct Shape {
  std::int64_t batch;
  int fields;
  int dim;
};

void check_values(const Context& ctx, const TensorView& values, const Shape& s) {
  if (values.data == nullptr) return;
  RECKON_CHECK_ARG(values.dtype == DType::kF32 && values.is_contiguous() && values.ndim == 2 &&
                       values.size(0) == s.batch && values.size(1) == s.fields,
                   "fm values must be contiguous f32 [", s.batch, ", ", s.fields, "], got ", values.shape_str());
  check_device(values, "fm values", ctx.device());
}

void check_f32(const Context& ctx, const TensorView& t, const char* name, std::initializer_list<std::int64_t> shape) {
  check_shape(t, name, shape);
  check_dtype(t, name, DType::kF32);
  RECKON_CHECK_ARG(t.is_contiguous(), name, " must be contiguous");
  check_device(t, name, ctx.device());
}

Shape dense_shape(const Context& ctx, const TensorView& src, const TensorView& values) {
  RECKON_CHECK_ARG(src.ndim == 3, "fm src must be [B, F, K], got ", src.shape_str());
  const Shape s{src.size(0), static_cast<int>(src.size(1)), static_cast<int>(src.size(2))};
  check_f32(ctx, src, "fm src", {s.batch, s.fields, s.dim});
  check_values(ctx, values, s);
  RECKON_CHECK_ARG(s.batch == 0 || (s.fields > 0 && s.dim > 0), "fm: F and K must be positive, got ", src.shape_str());
  return s;
}

// The shape and values of a call, common to the four entry points.
detail::FmArgs& describe(detail::FmArgs& a, const Shape& s, const TensorView& values) {
  a.values = static_cast<const float*>(values.data);
  a.batch = s.batch;
  a.fields = s.fields;
  a.dim = s.dim;
  return a;
}

detail::FmArgs fused_args(const Context& ctx, std::span<const TensorView> tables, const TensorView& indices,
                          const TensorView& values, IndexPolicy policy, std::int64_t oov_row, Shape& s) {
  RECKON_CHECK_ARG(indices.ndim == 2 && (indices.dtype == DType::kI32 || indices.dtype == DType::kI64) &&
                       indices.is_contiguous(),
                   "fm indices must be contiguous i32 or i64 [B, F], got ", indices.shape_str());
  check_device(indices, "fm indices", ctx.device());
  s.batch = indices.size(0);
  s.fields = static_cast<int>(indices.size(1));
  RECKON_CHECK_ARG(static_cast<std::int64_t>(tables.size()) == s.fields, "fm: ", s.fields, " fields but ",
                   tables.size(), " tables");
  RECKON_CHECK_ARG(s.fields <= kFmMaxFusedFields, "fused fm handles at most ", kFmMaxFusedFields,
                   " fields, got ", s.fields);
  RECKON_CHECK_ARG(!tables.empty() && tables[0].ndim == 2, "fm tables must be [N, K]");
  s.dim = static_cast<int>(tables[0].size(1));
  detail::FmArgs a{};
  for (int f = 0; f < s.fields; ++f) {
    const TensorView& t = tables[static_cast<std::size_t>(f)];
    RECKON_CHECK_ARG(t.ndim == 2 && t.size(1) == s.dim && t.dtype == DType::kF32 && t.is_contiguous(), "fm table ", f,
                     " must be contiguous f32 [N, ", s.dim, "], got ", t.shape_str());
    check_device(t, "fm table", ctx.device());
    if (policy == IndexPolicy::kOovRow) {
      RECKON_CHECK_ARG(oov_row >= 0 && oov_row < t.size(0), "oov_row ", oov_row, " is outside fm table ", f);
    }
    a.in.tables[f] = static_cast<const float*>(t.data);
    a.in.rows[f] = t.size(0);
  }
  a.in.indices = indices.data;
  a.in.indices_i64 = indices.dtype == DType::kI64;
  a.in.use_oov_row = policy == IndexPolicy::kOovRow;
  a.in.oov_row = oov_row;
  check_values(ctx, values, s);
  return a;
}

// Returns the key of the first bad id (runtime/detail/device_errors.h), kNoDeviceError when none.
std::uint64_t fm_cpu(Context& ctx, const detail::FmArgs& a, bool backward) {
  const int F = a.fields, K = a.dim;
  std::uint64_t bad = detail::kNoDeviceError;
#pragma omp parallel num_threads(ctx.cpu_threads())
  {
    std::vector<float> s(static_cast<std::size_t>(K)), q(static_cast<std::size_t>(K));
#pragma omp for schedule(static) reduction(min : bad)
    for (std::int64_t b = 0; b < a.batch; ++b) {
      std::fill(s.begin(), s.end(), 0.0f);
      std::fill(q.begin(), q.end(), 0.0f);
      bool ok = true;
      for (int f = 0; f < F; ++f) {
        const float* row = detail::fm_row(a.in, b, f, F, K);
        if (row == nullptr) {
          bad = std::min(bad, detail::device_error_key(detail::DeviceErrorKind::kIndexOutOfRange, f, b));
          ok = false;
          continue;
        }
        const float x = detail::fm_value(a.values, b, f, F);
        for (int k = 0; k < K; ++k) {
          const float v = mul_rn(x, row[k]);
          s[static_cast<std::size_t>(k)] = add_rn(s[static_cast<std::size_t>(k)], v);
          q[static_cast<std::size_t>(k)] = madd(v, v, q[static_cast<std::size_t>(k)]);
        }
      }
      if (!ok) continue;
      if (!backward) {
        float y = 0.0f;
        for (int k = 0; k < K; ++k) y = add_rn(y, detail::fm_column_term(s[static_cast<std::size_t>(k)], q[static_cast<std::size_t>(k)]));
        a.dst[b] = y;
        continue;
      }
      const float dy = a.diff_dst[b];
      for (int f = 0; f < F; ++f) {
        const float* row = detail::fm_row(a.in, b, f, F, K);
        const float x = detail::fm_value(a.values, b, f, F);
        float* out = a.dst + (b * F + f) * K;
        for (int k = 0; k < K; ++k) {
          out[k] = detail::fm_row_gradient(dy, x, s[static_cast<std::size_t>(k)], mul_rn(x, row[k]));
        }
      }
    }
  }
  return bad;
}

#if RECKON_WITH_CUDA
// What the device record's resolve step reads: field f's id of sample b is indices[b · F + f].
detail::ErrorOperands error_operands(const detail::FmArgs& a, std::span<const TensorView> tables, detail::DeviceOp op) {
  detail::ErrorOperands o;
  o.op = op;
  o.count = a.fields;
  o.ids_i64 = a.in.indices_i64;
  const std::size_t size = a.in.indices_i64 ? 8 : 4;
  for (int f = 0; f < a.fields; ++f) {
    o.ids[f] = static_cast<const char*>(a.in.indices) + static_cast<std::size_t>(f) * size;
    o.stride[f] = a.fields;
    o.limit[f] = tables[static_cast<std::size_t>(f)].size(0);
  }
  return o;
}
#endif

struct FmProblem {
  const detail::FmArgs& a;
  bool backward;
  std::span<const TensorView> tables;
  const TensorView& indices;
  detail::DeviceOp op;
};

void fm_cuda(Context& ctx, const FmProblem& p) {
#if RECKON_WITH_CUDA
  detail::FmArgs a = p.a;
  a.errors = detail::device_error_record(ctx);
  detail::fm_interaction_cuda(ctx, a, p.backward);
  if (a.in.src == nullptr && !a.in.use_oov_row) {  // fused with checked ids
    detail::resolve_device_error(ctx, error_operands(a, p.tables, p.op));
    detail::after_device_op(ctx);
  }
#else
  (void)ctx, (void)p;
#endif
}

void fm_cpu_run(Context& ctx, const FmProblem& p) {
  detail::DeviceErrorRecord record;
  record.key = fm_cpu(ctx, p.a, p.backward);
  if (record.key == detail::kNoDeviceError) return;
  const std::int64_t f = detail::device_error_operand(record.key), b = detail::device_error_position(record.key);
  const std::int64_t at = b * p.a.fields + f;
  record.value = p.a.in.indices_i64 ? static_cast<const std::int64_t*>(p.indices.data)[at]
                                    : static_cast<const std::int32_t*>(p.indices.data)[at];
  record.limit = p.tables[static_cast<std::size_t>(f)].size(0);
  record.op = static_cast<std::int32_t>(p.op);
  detail::throw_device_error(record, __FILE__, __LINE__);
}

constexpr ImplementationList<FmProblem, 2> fm_implementations(const char* op) {
  return {op,
          {{{"cuda_group_per_sample", "a CUDA context (a group of up to 32 lanes per sample, columns split)",
             [](const Context& c, const FmProblem&) { return requires_cuda_context(c); }, fm_cuda},
            {"cpu", "a CPU context", [](const Context& c, const FmProblem&) { return requires_cpu_context(c); },
             fm_cpu_run}}}};
}
const auto kFmFwd = fm_implementations("fm_interaction_fwd");
const auto kFmBwd = fm_implementations("fm_interaction_bwd");
const auto kFmFusedFwd = fm_implementations("fm_interaction_fused_fwd");
const auto kFmFusedBwd = fm_implementations("fm_interaction_fused_bwd");

void run(Context& ctx, const detail::FmArgs& a, bool backward, std::span<const TensorView> tables,
         const TensorView& indices, detail::DeviceOp op) {
  if (a.batch == 0 || a.fields == 0 || a.dim == 0) return;
  const auto& list = op == detail::DeviceOp::kFmFwd       ? kFmFwd
                     : op == detail::DeviceOp::kFmBwd     ? kFmBwd
                     : op == detail::DeviceOp::kFmFusedFwd ? kFmFusedFwd
                                                          : kFmFusedBwd;
  dispatch(ctx, list, FmProblem{a, backward, tables, indices, op});
}

}  // namespace

void fm_interaction_fwd(Context& ctx, const TensorView& src, const TensorView& values, const TensorView& dst) {
  const Shape s = dense_shape(ctx, src, values);
  check_f32(ctx, dst, "fm dst", {s.batch});
  detail::FmArgs a{};
  a.in.src = static_cast<const float*>(src.data);
  describe(a, s, values).dst = static_cast<float*>(dst.data);
  run(ctx, a, false, {}, TensorView{}, detail::DeviceOp::kFmFwd);
}

void fm_interaction_bwd(Context& ctx, const TensorView& src, const TensorView& values, const TensorView& diff_dst,
                        const TensorView& diff_src) {
  const Shape s = dense_shape(ctx, src, values);
  check_f32(ctx, diff_dst, "fm diff_dst", {s.batch});
  check_f32(ctx, diff_src, "fm diff_src", {s.batch, s.fields, s.dim});
  detail::FmArgs a{};
  a.in.src = static_cast<const float*>(src.data);
  describe(a, s, values).diff_dst = static_cast<const float*>(diff_dst.data);
  a.dst = static_cast<float*>(diff_src.data);
  run(ctx, a, true, {}, TensorView{}, detail::DeviceOp::kFmBwd);
}

void fm_interaction_fused_fwd(Context& ctx, std::span<const TensorView> tables, const TensorView& indices,
                              const TensorView& values, const TensorView& dst, IndexPolicy policy,
                              std::int64_t oov_row) {
  Shape s{};
  detail::FmArgs a = fused_args(ctx, tables, indices, values, policy, oov_row, s);
  check_f32(ctx, dst, "fm dst", {s.batch});
  describe(a, s, values).dst = static_cast<float*>(dst.data);
  run(ctx, a, false, tables, indices, detail::DeviceOp::kFmFusedFwd);
}

void fm_interaction_fused_bwd(Context& ctx, std::span<const TensorView> tables, const TensorView& indices,
                              const TensorView& values, const TensorView& diff_dst, const TensorView& diff_src,
                              IndexPolicy policy, std::int64_t oov_row) {
  Shape s{};
  detail::FmArgs a = fused_args(ctx, tables, indices, values, policy, oov_row, s);
  check_f32(ctx, diff_dst, "fm diff_dst", {s.batch});
  check_f32(ctx, diff_src, "fm diff_src", {s.batch, s.fields, s.dim});
  describe(a, s, values).diff_dst = static_cast<const float*>(diff_dst.data);
  a.dst = static_cast<float*>(diff_src.data);
  run(ctx, a, true, tables, indices, detail::DeviceOp::kFmFusedBwd);
}

}  // namespace reckon

namespace reckon::detail {
std::vector<OpDescription> fm_ops() {
  return {describe(kFmFwd), describe(kFmBwd), describe(kFmFusedFwd), describe(kFmFusedBwd)};
}
}  // namespace reckon::detail
