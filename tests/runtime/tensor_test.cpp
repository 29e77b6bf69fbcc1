#include <gtest/gtest.h>

#include "reckon/runtime/tensor.h"

namespace reckon {
namespace {

TEST(TensorView, ContiguousStridesAndNumel) {
  float data[1];
  const TensorView t = TensorView::contiguous(data, DType::kF32, Device::cpu(), {2, 3, 4, 5, 6});
  EXPECT_EQ(t.ndim, 5);
  EXPECT_EQ(t.numel(), 720);
  EXPECT_EQ(t.nbytes(), 720u * 4);
  EXPECT_EQ(t.stride(4), 1);
  EXPECT_EQ(t.stride(3), 6);
  EXPECT_EQ(t.stride(2), 30);
  EXPECT_EQ(t.stride(1), 120);
  EXPECT_EQ(t.stride(0), 360);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.shape_str(), "[2, 3, 4, 5, 6] f32 on cpu");
}

TEST(TensorView, ScalarsAndEmptyTensors) {
  const TensorView scalar = TensorView::contiguous(nullptr, DType::kI64, Device::cpu(), {});
  EXPECT_EQ(scalar.numel(), 1);
  const TensorView empty = TensorView::contiguous(nullptr, DType::kI32, Device::cpu(), {0, 7});
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_EQ(empty.nbytes(), 0u);
  EXPECT_TRUE(empty.is_contiguous());
  // An empty last dimension (a layer with no inputs): contiguous() counts it as 1 in its peers' strides.
  EXPECT_TRUE(TensorView::contiguous(nullptr, DType::kF32, Device::cpu(), {5, 0}).is_contiguous());
}

TEST(TensorView, RejectsTooManyDimsAndNegativeSizes) {
  EXPECT_THROW((void)TensorView::contiguous(nullptr, DType::kF32, Device::cpu(), {1, 2, 3, 4, 5, 6}), Error);
  EXPECT_THROW((void)TensorView::contiguous(nullptr, DType::kF32, Device::cpu(), {2, -1}), Error);
}

TEST(TensorView, NonContiguousViewIsDetected) {
  float data[1];
  TensorView t = TensorView::contiguous(data, DType::kF32, Device::cpu(), {4, 8});
  t.sizes[1] = 4;  // a column slice of a wider matrix: stride 8 along dim 0
  EXPECT_FALSE(t.is_contiguous());
}

TEST(TensorView, TypedAccessChecksDtype) {
  float data[4] = {};
  const TensorView t = TensorView::contiguous(data, DType::kF32, Device::cpu(), {4});
  EXPECT_EQ(t.data_as<float>(), data);
  EXPECT_THROW((void)t.data_as<std::int32_t>(), Error);
}

TEST(TensorView, ShapeChecksNameTheArgument) {
  const TensorView t = TensorView::contiguous(nullptr, DType::kF32, Device::cpu(), {4096, 39, 16});
  EXPECT_NO_THROW(check_shape(t, "src", {4096, 39, 16}));
  EXPECT_NO_THROW(check_shape(t, "src", {-1, 39, 16}));
  try {
    check_shape(t, "src", {4096, 26, 16});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.message().find("src: expected shape [4096, 26, 16], got [4096, 39, 16] f32 on cpu"), std::string::npos)
        << e.message();
  }
  EXPECT_THROW(check_shape(t, "src", {4096, 39}), Error);
  EXPECT_THROW(check_dtype(t, "src", DType::kBF16), Error);
  EXPECT_THROW(check_device(t, "src", Device::cuda(0)), Error);
}

}  // namespace
}  // namespace reckon
