#include "reckon/runtime/tensor.h"

#include <sstream>

namespace reckon {

TensorView TensorView::contiguous(void* data, DType dtype, Device device, const std::int64_t* sizes, int ndim) {
  RECKON_CHECK_ARG(ndim >= 0 && ndim <= kMaxDims, "a tensor has at most ", kMaxDims, " dimensions, got ", ndim);
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.device = device;
  v.ndim = ndim;
  std::int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    RECKON_CHECK_ARG(sizes[d] >= 0, "negative size ", sizes[d], " in dimension ", d);
    v.sizes[static_cast<std::size_t>(d)] = sizes[d];
    v.strides[static_cast<std::size_t>(d)] = stride;
    stride *= sizes[d] > 0 ? sizes[d] : 1;
  }
  return v;
}

TensorView TensorView::strided_rows(void* data, DType dtype, Device device, std::int64_t rows, std::int64_t cols,
                                    std::int64_t row_stride) {
  RECKON_CHECK_ARG(rows >= 0 && cols >= 0 && row_stride >= cols, "strided rows: ", rows, " x ", cols,
                   " with row stride ", row_stride);
  TensorView v = contiguous(data, dtype, device, {rows, cols});
  v.strides[0] = row_stride;
  return v;
}

TensorView TensorView::contiguous(void* data, DType dtype, Device device, std::initializer_list<std::int64_t> sizes) {
  return contiguous(data, dtype, device, sizes.begin(), static_cast<int>(sizes.size()));
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= size(d);
  return n;
}

bool TensorView::is_contiguous() const {
  if (numel() == 0) return true;  // no element to be out of place, whatever the strides of an empty dimension's peers
  std::int64_t expected = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    if (size(d) != 1 && stride(d) != expected) return false;
    expected *= size(d);
  }
  return true;
}

std::int64_t TensorView::row_stride() const {
  if (ndim == 1) return size(0) <= 1 ? 1 : (stride(0) >= 1 ? stride(0) : -1);
  if (ndim != 2) return -1;
  if (size(1) > 1 && stride(1) != 1) return -1;
  if (size(0) <= 1) return size(1);
  return stride(0) >= size(1) ? stride(0) : -1;
}

std::string TensorView::shape_str() const {
  std::ostringstream out;
  out << '[';
  for (int d = 0; d < ndim; ++d) out << (d ? ", " : "") << size(d);
  out << "] " << dtype_name(dtype) << " on " << device.str();
  return out.str();
}

void check_shape(const TensorView& t, const char* name, std::initializer_list<std::int64_t> expected_sizes) {
  bool ok = t.ndim == static_cast<int>(expected_sizes.size());
  int d = 0;
  for (std::int64_t s : expected_sizes) {
    if (ok && s >= 0 && t.size(d) != s) ok = false;  // a negative expected size matches anything
    ++d;
  }
  if (!ok) {
    std::ostringstream want;
    want << '[';
    d = 0;
    for (std::int64_t s : expected_sizes) {
      want << (d++ ? ", " : "");
      if (s >= 0) {
        want << s;
      } else {
        want << '*';
      }
    }
    want << ']';
    RECKON_THROW(StatusCode::kInvalidArgument, name, ": expected shape ", want.str(), ", got ", t.shape_str());
  }
}

void check_dtype(const TensorView& t, const char* name, DType expected) {
  if (t.dtype != expected) {
    RECKON_THROW(StatusCode::kInvalidArgument, name, ": expected dtype ", dtype_name(expected), ", got ",
                 t.shape_str());
  }
}

void check_device(const TensorView& t, const char* name, Device expected) {
  if (!(t.device == expected)) {
    RECKON_THROW(StatusCode::kInvalidArgument, name, ": expected a tensor on ", expected.str(), ", got ",
                 t.shape_str());
  }
}

}  // namespace reckon
