#include <gtest/gtest.h>

#include <string>

#include "reckon/runtime/error.h"

namespace reckon {
namespace {

TEST(Error, CarriesCodeFileLineAndMessage) {
  const int line = __LINE__ + 2;
  try {
    RECKON_THROW(StatusCode::kDataError, "row ", 17, " of ", "a.csv", " is malformed");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kDataError);
    EXPECT_EQ(e.line(), line);
    // Relative to the source root, not the builder's absolute path (-fmacro-prefix-map).
    EXPECT_EQ(std::string(e.file()), "tests/runtime/error_test.cpp");
    EXPECT_EQ(e.message(), "row 17 of a.csv is malformed");
    const std::string what = e.what();
    EXPECT_NE(what.find("error_test.cpp:" + std::to_string(line)), std::string::npos) << what;
    EXPECT_NE(what.find("[data error]"), std::string::npos) << what;
  }
}

TEST(Error, CheckArgNamesTheCondition) {
  const int n = -3;
  try {
    RECKON_CHECK_ARG(n >= 0, "n must be non-negative, got ", n);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.message().find("got -3"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("n >= 0"), std::string::npos) << e.message();
  }
  EXPECT_NO_THROW(RECKON_CHECK_ARG(n < 0, "unreachable"));
}

TEST(Status, OkAndErrorAndThrowIfError) {
  EXPECT_TRUE(Status::ok().is_ok());
  const Status bad(StatusCode::kUnsupported, "D > 1024 is not implemented by this kernel");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(bad.code(), StatusCode::kUnsupported);
  EXPECT_NO_THROW(RECKON_THROW_IF_ERROR(Status::ok()));
  try {
    RECKON_THROW_IF_ERROR(bad);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnsupported);
    EXPECT_EQ(e.message(), bad.message());
  }
}

TEST(Status, EveryCodeHasAName) {
  for (int c = static_cast<int>(StatusCode::kOk); c <= static_cast<int>(StatusCode::kUnavailable); ++c) {
    EXPECT_STRNE(to_string(static_cast<StatusCode>(c)), "unknown status") << c;
  }
}

TEST(Error, NotCompiledNamesTheBackend) {
  try {
    detail::throw_not_compiled("conv3d_fwd", "cuDNN", __FILE__, __LINE__);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kNotCompiled);
    EXPECT_NE(e.message().find("conv3d_fwd"), std::string::npos);
    EXPECT_NE(e.message().find("cuDNN"), std::string::npos);
  }
}

}  // namespace
}  // namespace reckon
