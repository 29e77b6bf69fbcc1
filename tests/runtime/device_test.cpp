#include <gtest/gtest.h>

#include <cstdlib>

#include "reckon/runtime/context.h"
#include "reckon/runtime/device.h"
#include "reckon/runtime/error.h"
#include "testing.h"

namespace reckon {
namespace {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST(Device, NamesAndEquality) {
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_EQ(Device::cuda(3).str(), "cuda:3");
  EXPECT_EQ(Device::cpu(), Device::cpu());
  EXPECT_FALSE(Device::cuda(0) == Device::cuda(1));
  EXPECT_FALSE(Device::cpu() == Device::cuda(0));
}

TEST(Device, ParseCpuAndRejectGarbage) {
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "CUDA", "cpu:0", "cuda:-1"}) {
    try {
      (void)parse_device(bad);
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(Device, DetectionNeverFails) {
  // Any CUDA error during detection means "no GPU": the count is never negative and a reason is given for zero.
  const int n = cuda_device_count();
  EXPECT_GE(n, 0);
  EXPECT_EQ(cuda_available(), n > 0);
  if (n == 0) {
    EXPECT_FALSE(cuda_unavailable_reason().empty());
  }
  EXPECT_EQ(static_cast<int>(cuda_devices().size()), n);
}

TEST(Device, AutoPicksCudaWhenAvailable) {
  const Device d = parse_device("auto");
  EXPECT_EQ(d, cuda_available() ? Device::cuda(0) : Device::cpu());
}

TEST(Device, ForcingCudaWithoutGpuIsAClearError) {
  if (cuda_available()) {
    EXPECT_EQ(parse_device("cuda"), Device::cuda(0));
    try {
      (void)parse_device("cuda:999");
      FAIL() << "accepted cuda:999";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kNoDevice);
    }
    return;
  }
  try {
    (void)parse_device("cuda");
    FAIL() << "accepted cuda without a GPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kNoDevice);
    EXPECT_NE(e.message().find(cuda_unavailable_reason()), std::string::npos) << e.message();
  }
  EXPECT_THROW(Context ctx(Device::cuda(0)), Error);
}

TEST(Device, EnvironmentVariableSelectsTheDefault) {
  {
    ScopedEnv env("RECKON_DEVICE", "cpu");
    EXPECT_EQ(default_device(), Device::cpu());
  }
  {
    ScopedEnv env("RECKON_DEVICE", nullptr);
    EXPECT_EQ(default_device(), parse_device("auto"));
  }
  {
    ScopedEnv env("RECKON_DEVICE", "tpu");
    try {
      (void)default_device();
      FAIL() << "accepted RECKON_DEVICE=tpu";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(e.message().find("RECKON_DEVICE=tpu"), std::string::npos) << e.message();
    }
  }
  if (!cuda_available()) {
    ScopedEnv env("RECKON_DEVICE", "cuda");
    try {
      (void)default_device();
      FAIL() << "RECKON_DEVICE=cuda accepted without a GPU";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::kNoDevice);
    }
  }
}

TEST(DeviceCuda, PropertiesAreSane) {
  RECKON_SKIP_WITHOUT_CUDA();
  for (const CudaDeviceInfo& d : cuda_devices()) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.compute_major, 7);
    EXPECT_GT(d.multiprocessors, 0);
    EXPECT_GT(d.global_memory_bytes, std::size_t{1} << 30);
    EXPECT_GT(d.shared_memory_per_block_optin, std::size_t{48} * 1024 - 1);
  }
  EXPECT_GT(cuda_driver_version(), 0);
  EXPECT_GT(cuda_runtime_version(), 0);
}

}  // namespace
}  // namespace reckon
