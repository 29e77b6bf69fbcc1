// Dispatch: the first implementation that accepts runs; the others' reasons are kept; the catalogue lists every op.
#include "reckon/runtime/dispatch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "reckon/kernels/catalogue.h"
#include "reckon/kernels/embedding/embedding.h"
#include "reckon/runtime/memory.h"
#include "testing.h"

namespace reckon {
namespace {

struct Toy {
  int size;
  std::vector<std::string>* ran;
};

const ImplementationList<Toy, 3> kToy{
    "toy_op",
    {{{"small_only", "size < 10",
       [](const Context&, const Toy& t) {
         return t.size < 10 ? Status::ok() : Status{StatusCode::kUnsupported, "size >= 10"};
       },
       [](Context&, const Toy& t) { t.ran->push_back("small_only"); }},
      {"even_only", "an even size",
       [](const Context&, const Toy& t) {
         return t.size % 2 == 0 ? Status::ok() : Status{StatusCode::kUnsupported, "odd size"};
       },
       [](Context&, const Toy& t) { t.ran->push_back("even_only"); }, [](const Toy& t) { return std::size_t(t.size); }},
      {"never", "nothing", [](const Context&, const Toy&) { return Status{StatusCode::kUnsupported, "never"}; },
       [](Context&, const Toy& t) { t.ran->push_back("never"); }}}}};

TEST(Dispatch, FirstAcceptingImplementationRunsAndRefusalsAreKept) {
  Context ctx(Device::cpu());
  std::vector<std::string> ran;
  dispatch(ctx, kToy, Toy{3, &ran});
  dispatch(ctx, kToy, Toy{12, &ran});
  EXPECT_EQ(ran, (std::vector<std::string>{"small_only", "even_only"}));
  const DispatchChoice c = last_dispatch("toy_op");
  EXPECT_EQ(c.implementation, "even_only");
  EXPECT_EQ(c.workspace_bytes, 12u);
  ASSERT_EQ(c.refused.size(), 1u);
  EXPECT_EQ(c.refused[0].first, "small_only");
  EXPECT_EQ(c.refused[0].second, "size >= 10");
  try {
    dispatch(ctx, kToy, Toy{13, &ran});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kUnsupported);
    EXPECT_NE(e.message().find("toy_op: no implementation accepts this call (small_only: size >= 10; even_only: odd "
                               "size; never: never)"),
              std::string::npos)
        << e.message();
  }
  EXPECT_EQ(last_dispatch("toy_op").implementation, "");
  EXPECT_THROW((void)last_dispatch("not_an_op"), Error);
}

TEST(Dispatch, KernelsSayWhichImplementationRanAndWhy) {
  Context ctx(Device::cpu());
  const std::vector<float> table(10 * 4, 1.0f);
  const std::vector<std::int64_t> offsets{0, 1, 2}, ids{3, 4};
  std::vector<float> out(2 * 4);
  const std::vector<TensorView> tables{
      TensorView::contiguous(const_cast<float*>(table.data()), DType::kF32, Device::cpu(), {10, 4})};
  const std::vector<EmbeddingBags> bags{
      {TensorView::contiguous(const_cast<std::int64_t*>(offsets.data()), DType::kI64, Device::cpu(), {3}),
       TensorView::contiguous(const_cast<std::int64_t*>(ids.data()), DType::kI64, Device::cpu(), {2})}};
  embedding_bag_fwd(ctx, tables, bags, TensorView::contiguous(out.data(), DType::kF32, Device::cpu(), {2, 1, 4}));
  const DispatchChoice c = last_dispatch("embedding_bag_fwd");
  EXPECT_EQ(c.implementation, "cpu");
  ASSERT_EQ(c.refused.size(), 2u);
  EXPECT_EQ(c.refused[0].first, "cuda_vec4");
  EXPECT_TRUE(c.refused[0].second == "not a CUDA context" || c.refused[0].second == "this build has no CUDA")
      << c.refused[0].second;
}

TEST(Dispatch, CatalogueListsEveryOpWithTheCpuLast) {
  const std::vector<OpDescription> ops = kernel_catalogue();
  std::vector<std::string> names;
  for (const OpDescription& op : ops) {
    names.push_back(op.op);
    ASSERT_GE(op.implementations.size(), 2u) << op.op;
    for (const auto& [name, needs] : op.implementations) EXPECT_FALSE(needs.empty()) << op.op << "/" << name;
    EXPECT_EQ(op.implementations.back().first.substr(0, 3), op.op == "dense_gemm" ? "cbl" : "cpu") << op.op;
  }
  for (const char* op : {"embedding_bag_fwd", "embedding_bag_bwd", "embedding_bag_bwd_update", "fm_interaction_fwd",
                         "fm_interaction_fused_bwd", "dense_gemm", "column_sum", "sigmoid_bce_with_logits",
                         "optimizer_update", "random_fill", "sgns_step", "topk_rows", "mask_entries"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), op), names.end()) << op;
  }
}

// On a GPU the vector path serves aligned rows with D % 4 == 0 and says why it refuses the others.
TEST(DispatchCuda, EmbeddingForwardTakesTheVectorPathWhenRowsAreAligned) {
  RECKON_SKIP_WITHOUT_CUDA();
  Context ctx(Device::cuda(0));
  for (const std::int64_t D : {16, 18}) {
    Tensor table = Tensor::empty(ctx, DType::kF32, {10, D}), out = Tensor::empty(ctx, DType::kF32, {2, 1, D});
    Tensor offsets = Tensor::empty(ctx, DType::kI64, {3}), ids = Tensor::empty(ctx, DType::kI64, {2});
    const std::vector<std::int64_t> off{0, 1, 2}, id{3, 4};
    copy_bytes(ctx, offsets.data<std::int64_t>(), ctx.device(), off.data(), Device::cpu(), 24);
    copy_bytes(ctx, ids.data<std::int64_t>(), ctx.device(), id.data(), Device::cpu(), 16);
    const std::vector<TensorView> tables{table.view()};
    const std::vector<EmbeddingBags> bags{{offsets.view(), ids.view()}};
    embedding_bag_fwd(ctx, tables, bags, out);
    ctx.synchronize();
    const DispatchChoice c = last_dispatch("embedding_bag_fwd");
    EXPECT_EQ(c.implementation, D == 16 ? "cuda_vec4" : "cuda_scalar") << "D = " << D;
    if (D == 18) {
      EXPECT_EQ(c.refused.at(0).second, "D = 18 is not a multiple of 4");
    }
  }
}

}  // namespace
}  // namespace reckon
