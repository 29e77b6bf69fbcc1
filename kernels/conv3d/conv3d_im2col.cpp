// The CPU convolution for builds without oneDNN: per sample and group, the input's taps unrolled into a column
// matrix cols[J, Z·P·Q] (J = Cg·T·R·S in the filters' memory order, zero in the padding), then one BLAS product:
//   forward          Y_g = W_g · cols                    ([Kg, J] · [J, ZPQ])
//   data gradient    cols = W_gᵀ · dY_g, scattered back into dx (col2im)
//   weight gradient  dW_g += dY_g · colsᵀ, over the samples
// NCDHW outputs are [Kg, ZPQ] blocks; NDHWC ones are read and written transposed through the BLAS's strides.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "reckon/kernels/conv3d/conv3d_impl.h"
#include "reckon/kernels/conv3d/conv3d_math.h"

namespace reckon::detail {
namespace {

std::int64_t outputs(const ConvProblem& P) { return P.z * P.p * P.q; }
std::int64_t taps(const ConvProblem& P) { return P.cg * P.t * P.r * P.s; }

// The input element (n, group) reads at tap j and output position o, or -1 in the padding.
std::int64_t source(const ConvProblem& P, std::int64_t n, std::int64_t group, std::int64_t j, std::int64_t o) {
  std::int64_t c, t, r, s;
  decode_tap(P, j, c, t, r, s);
  const std::int64_t q = o % P.q, p = (o / P.q) % P.p, z = o / (P.q * P.p);
  const std::int64_t d = input_at(P, 0, z, t), h = input_at(P, 1, p, r), w = input_at(P, 2, q, s);
  if (d < 0 || d >= P.d || h < 0 || h >= P.h || w < 0 || w >= P.w) return -1;
  return x_index(P, n, group * P.cg + c, d, h, w);
}

void im2col(Context& ctx, const ConvProblem& P, std::int64_t n, std::int64_t group, float* cols) {
  const std::int64_t J = taps(P), O = outputs(P);
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t j = 0; j < J; ++j) {
    for (std::int64_t o = 0; o < O; ++o) {
      const std::int64_t at = source(P, n, group, j, o);
      cols[j * O + o] = at < 0 ? 0.0f : P.x[at];
    }
  }
}

// dx += the columns, each added where im2col read it. Columns of one tap go to distinct inputs, so taps run in
// order and positions in parallel would race only across taps: the loop keeps taps sequential.
void col2im(const ConvProblem& P, std::int64_t n, std::int64_t group, const float* cols) {
  const std::int64_t J = taps(P), O = outputs(P);
  for (std::int64_t j = 0; j < J; ++j) {
    for (std::int64_t o = 0; o < O; ++o) {
      const std::int64_t at = source(P, n, group, j, o);
      if (at >= 0) P.out[at] += cols[j * O + o];
    }
  }
}

// Where output block (n, group) starts in y / dy, and its leading dimension and transposition for the BLAS.
struct Block {
  std::int64_t offset, ld;
  bool transposed;  // NDHWC: the block is [ZPQ, Kg] with row stride K
};

Block output_block(const ConvProblem& P, std::int64_t n, std::int64_t group) {
  const std::int64_t O = outputs(P);
  if (P.channels_last) return {n * O * P.k + group * P.kg, P.k, true};
  return {(n * P.k + group * P.kg) * O, O, false};
}

int as_int(std::int64_t v) { return static_cast<int>(v); }

void forward(Context& ctx, const ConvProblem& P, std::vector<float>& cols) {
  const std::int64_t J = taps(P), O = outputs(P);
  for (std::int64_t n = 0; n < P.n; ++n) {
    for (std::int64_t g = 0; g < P.groups; ++g) {
      im2col(ctx, P, n, g, cols.data());
      const Block b = output_block(P, n, g);
      const float* w = P.wt + g * P.kg * J;
      if (b.transposed) {  // Yᵀ[ZPQ, Kg] = colsᵀ · W_gᵀ
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, as_int(O), as_int(P.kg), as_int(J), 1.0f, cols.data(),
                    as_int(O), w, as_int(J), 0.0f, P.out + b.offset, as_int(b.ld));
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, as_int(P.kg), as_int(O), as_int(J), 1.0f, w,
                    as_int(J), cols.data(), as_int(O), 0.0f, P.out + b.offset, as_int(b.ld));
      }
    }
  }
  if (P.bias == nullptr && !P.relu) return;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t i = 0; i < P.n * P.k * O; ++i) {
    const std::int64_t k = P.channels_last ? i % P.k : (i / O) % P.k;
    float v = P.out[i];
    if (P.bias != nullptr) v = add_rn(v, P.bias[k]);
    if (P.relu) v = v <= 0.0f ? 0.0f : v;
    P.out[i] = v;
  }
}

void backward_data(Context& ctx, const ConvProblem& P, std::vector<float>& cols) {
  const std::int64_t J = taps(P), O = outputs(P);
  std::fill_n(P.out, P.n * P.c * P.d * P.h * P.w, 0.0f);
  for (std::int64_t n = 0; n < P.n; ++n) {
    for (std::int64_t g = 0; g < P.groups; ++g) {
      const Block b = output_block(P, n, g);
      const float* w = P.wt + g * P.kg * J;
      // cols[J, ZPQ] = W_gᵀ · dY_g  (dY_g is [Kg, ZPQ], or its transpose [ZPQ, Kg] in NDHWC)
      cblas_sgemm(CblasRowMajor, CblasTrans, b.transposed ? CblasTrans : CblasNoTrans, as_int(J), as_int(O),
                  as_int(P.kg), 1.0f, w, as_int(J), P.dy + b.offset, as_int(b.ld), 0.0f, cols.data(), as_int(O));
      col2im(P, n, g, cols.data());
    }
  }
  (void)ctx;
}

void backward_weights(Context& ctx, const ConvProblem& P, std::vector<float>& cols) {
  const std::int64_t J = taps(P), O = outputs(P);
  for (std::int64_t n = 0; n < P.n; ++n) {
    for (std::int64_t g = 0; g < P.groups; ++g) {
      im2col(ctx, P, n, g, cols.data());
      const Block b = output_block(P, n, g);
      // dW_g[Kg, J] (+)= dY_g · colsᵀ
      cblas_sgemm(CblasRowMajor, b.transposed ? CblasTrans : CblasNoTrans, CblasTrans, as_int(P.kg), as_int(J),
                  as_int(O), 1.0f, P.dy + b.offset, as_int(b.ld), cols.data(), as_int(O), n == 0 ? 0.0f : 1.0f,
                  P.out + g * P.kg * J, as_int(J));
    }
  }
  if (P.dbias == nullptr) return;
#pragma omp parallel for num_threads(ctx.cpu_threads()) schedule(static)
  for (std::int64_t k = 0; k < P.k; ++k) P.dbias[k] = conv_bwd_bias_element(P, k);
}

}  // namespace

Status conv3d_im2col_supports(const ConvProblem& P) {
  constexpr std::int64_t kIntMax = 2147483647;
  if (taps(P) * outputs(P) > kIntMax / 4 || P.n * P.k * outputs(P) > kIntMax || P.k * taps(P) > kIntMax) {
    return {StatusCode::kUnsupported, "the column matrix or an operand exceeds the BLAS's 32-bit sizes"};
  }
  return Status::ok();
}

void conv3d_im2col(Context& ctx, const ConvProblem& P, ConvOp op) {
  std::vector<float> cols(static_cast<std::size_t>(taps(P) * outputs(P)));
  switch (op) {
    case ConvOp::kForward: forward(ctx, P, cols); break;
    case ConvOp::kBackwardData: backward_data(ctx, P, cols); break;
    case ConvOp::kBackwardWeights: backward_weights(ctx, P, cols); break;
  }
}

}  // namespace reckon::detail
