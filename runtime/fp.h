// Float operations rounded one at a time, identically on host and device. Kernels that promise bitwise CPU/CUDA
// parity write their arithmetic with these: on the device they are the CUDA intrinsics, which the compiler never
// contracts into fma; on the host they are plain operators, and the library's host code is compiled with
// -ffp-contract=off. (fma would be reproducible too, but on the CPU it needs -mfma or becomes a slow library call.)
#pragma once

#include "reckon/runtime/philox.h"  // RECKON_HOST_DEVICE

namespace reckon {

RECKON_HOST_DEVICE float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

RECKON_HOST_DEVICE float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

RECKON_HOST_DEVICE float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// a · b + c with two roundings.
RECKON_HOST_DEVICE float madd(float a, float b, float c) { return add_rn(mul_rn(a, b), c); }

// Doubles, for the few per-step scalars computed where the step runs (runtime/step_clock.h).
RECKON_HOST_DEVICE double dmul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

RECKON_HOST_DEVICE double dadd_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

// a · b + c rounded once (the error-free product below needs it exact on both sides: glibc's fma is).
RECKON_HOST_DEVICE double dfma_rn(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return __builtin_fma(a, b, c);
#endif
}

}  // namespace reckon
