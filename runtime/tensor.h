// Non-owning tensor views: pointer, dtype, up to 5 sizes with strides in elements, and the device the memory
// lives on. Trivially copyable; kernels take them by value.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "reckon/runtime/device.h"
#include "reckon/runtime/dtype.h"
#include "reckon/runtime/error.h"

namespace reckon {

inline constexpr int kMaxDims = 5;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Device device = Device::cpu();
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> sizes{};
  std::array<std::int64_t, kMaxDims> strides{};  // in elements

  // A contiguous (row-major) view. Throws kInvalidArgument for more than kMaxDims or negative sizes.
  static TensorView contiguous(void* data, DType dtype, Device device, std::initializer_list<std::int64_t> sizes);
  static TensorView contiguous(void* data, DType dtype, Device device, const std::int64_t* sizes, int ndim);
  // A [rows, cols] view whose rows are row_stride >= cols elements apart (unit column stride): e.g. a table
  // interleaved with other per-row data.
  static TensorView strided_rows(void* data, DType dtype, Device device, std::int64_t rows, std::int64_t cols,
                                 std::int64_t row_stride);

  std::int64_t size(int dim) const { return sizes[static_cast<std::size_t>(dim)]; }
  std::int64_t stride(int dim) const { return strides[static_cast<std::size_t>(dim)]; }
  std::int64_t numel() const;
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  bool is_contiguous() const;
  // Elements between consecutive rows of a row layout - a 2-D view with unit column stride whose rows are at least
  // a row apart, or a 1-D view (one value per row) - and -1 for anything else. Tables interleaved with other
  // per-row data (TensorView::strided_rows) are row layouts.
  std::int64_t row_stride() const;
  std::string shape_str() const;  // "[4, 39, 16] f32 on cuda:0"

  template <typename T>
  T* data_as() const {
    RECKON_CHECK_ARG(dtype == dtype_v<T>, "tensor holds ", dtype_name(dtype), ", accessed as ",
                     dtype_name(dtype_v<T>));
    return static_cast<T*>(data);
  }
};

// Shape checks with a message naming the argument, for use by kernel front-ends.
void check_shape(const TensorView& t, const char* name, std::initializer_list<std::int64_t> expected_sizes);
void check_dtype(const TensorView& t, const char* name, DType expected);
void check_device(const TensorView& t, const char* name, Device expected);

}  // namespace reckon
