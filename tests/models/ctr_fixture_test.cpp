// CTR training on the CPU against a fixture recorded before the model was composed from layers (issue 18): every
// model kind and optimizer family, dropout, weight decay, L2 and bags of items, trained for a few epochs. Each case's
// signature is its per-epoch losses and a hash of the bits of its parameters and optimizer state.
//
// The CPU's matrix products come from oneDNN or the BLAS, whose kernels depend on the instruction set, so the bits
// are compared on the kind of CPU the fixture was recorded on (kRecordedOn); elsewhere the losses are compared to a
// relative 1e-4 and the hashes not at all. RECKON_PRINT_FIXTURE=1 prints the current signatures in source form.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"
#include "reckon/models/ctr/synthetic.h"
#include "reckon/models/ctr/trainer.h"
#include "reckon/config.h"
#include "reckon/runtime/file_io.h"
#include "testing.h"

namespace reckon::ctr {
namespace {

struct Signature {
  std::vector<double> losses;  // per epoch: training loss, validation logloss
  std::uint64_t parameters = 0, state = 0;
};

struct Case {
  const char* name;
  CtrModelConfig config;
  Signature want;
};

// The CPU features the matrix products' kernels are chosen by, and the GEMM the build uses.
std::string cpu_kind() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      flags = line + " ";
      break;
    }
  }
  std::string kind = RECKON_CPU_GEMM;
  for (const char* f : {"avx2", "avx512f", "avx512_bf16", "amx_tile"}) {
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) kind += std::string("+") + f;
  }
  return kind;
}

std::uint64_t hash_views(Context& ctx, const std::vector<TensorView>& views) {
  std::string bytes;
  for (const TensorView& t : views) {
    const std::vector<float> host = testing::to_host<float>(ctx, t);
    bytes.append(reinterpret_cast<const char*>(host.data()), host.size() * sizeof(float));
  }
  return fnv1a(bytes);
}

Signature run(const CtrModelConfig& config, const CtrDataset& train_data, const CtrDataset& valid,
              const std::vector<std::int64_t>& rows) {
  Context ctx(Device::cpu());
  CtrModel model(ctx, config, rows);
  TrainOptions options;
  options.epochs = 3;
  options.batch_size = 200;  // the last batch of an epoch is short
  options.restore_best = false;
  const TrainResult r = train(model, train_data, valid, options);
  Signature s;
  for (const EpochResult& e : r.epochs) {
    s.losses.push_back(e.train_loss);
    s.losses.push_back(e.valid_logloss);
  }
  s.parameters = hash_views(ctx, model.parameters());
  s.state = hash_views(ctx, model.optimizer_state());
  return s;
}

std::string source_form(const Signature& s) {
  std::ostringstream out;
  out << "{{";
  for (std::size_t i = 0; i < s.losses.size(); ++i) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%a", s.losses[i]);
    out << (i > 0 ? ", " : "") << buf;
  }
  out << "}, 0x" << std::hex << s.parameters << "ull, 0x" << s.state << "ull}";
  return out.str();
}

CtrModelConfig make(CtrModelKind kind, SparseOptimizerKind sparse, DenseOptimizerKind dense, float lr) {
  CtrModelConfig c;
  c.kind = kind;
  c.hidden = {24, 12};
  c.sparse_optimizer = sparse;
  c.dense_optimizer = dense;
  c.sparse_learning_rate = c.dense_learning_rate = lr;
  return c;
}

// Recorded at commit 337e9b3 (before the layers), on the CPU named here.
constexpr const char* kRecordedOn = "oneDNN 2.6.3+avx2+avx512f+avx512_bf16+amx_tile";

std::vector<Case> single_valued_cases() {
  using K = CtrModelKind;
  using S = SparseOptimizerKind;
  using D = DenseOptimizerKind;
  std::vector<Case> cases;
  cases.push_back({"lr_adam", make(K::kLr, S::kAdam, D::kAdam, 3e-3f), {}});
  cases.push_back({"fm_adam", make(K::kFm, S::kAdam, D::kAdam, 3e-3f), {}});
  cases.push_back({"fm_sgd", make(K::kFm, S::kSgd, D::kSgd, 0.05f), {}});
  Case dnn{"dnn_adam_dropout", make(K::kDnn, S::kAdam, D::kAdam, 3e-3f), {}};
  dnn.config.dropout = 0.2f;
  cases.push_back(dnn);
  Case deepfm{"deepfm_adamw_l2_dropout", make(K::kDeepFm, S::kAdam, D::kAdam, 3e-3f), {}};
  deepfm.config.dropout = 0.1f;
  deepfm.config.dense_weight_decay = 0.01f;
  deepfm.config.embedding_l2 = 1e-4f;
  cases.push_back(deepfm);
  Case rowwise{"deepfm_rowwise_adagrad", make(K::kDeepFm, S::kRowwiseAdagrad, D::kAdagrad, 0.03f), {}};
  rowwise.config.dense_weight_decay = 1e-3f;
  cases.push_back(rowwise);
  cases.push_back({"deepfm_adagrad_sgd", make(K::kDeepFm, S::kAdagrad, D::kSgd, 0.03f), {}});
  return cases;
}

// Expected signatures, in single_valued_cases() order, then the bags case.
const std::vector<Signature> kWant = {
    {{0x1.62e40f5c28f5cp-1, 0x1.4648810a87b7bp-1, 0x1.4cca828f5c28fp-1, 0x1.4387abc2edc85p-1, 0x1.367f8e147ae14p-1, 0x1.4343ae1cf3d35p-1}, 0xbac45f05fd8bc83full, 0xafb15eb2c0452110ull},
    {{0x1.61914a3d70a3dp-1, 0x1.44b9dfcdb46fcp-1, 0x1.466cfd70a3d71p-1, 0x1.47995ed9dde76p-1, 0x1.2bf86b851eb85p-1, 0x1.49670d2f418c2p-1}, 0x261720836285b809ull, 0xeb95d2026231a2c5ull},
    {{0x1.61914a3d70a3dp-1, 0x1.4392a5abeb959p-1, 0x1.49c991eb851ecp-1, 0x1.439463c94ce5bp-1, 0x1.3b584147ae148p-1, 0x1.43593de268aacp-1}, 0x361fd6567fc73491ull, 0x47fe0d7eaf8e51e3ull},
    {{0x1.6493828f5c28fp-1, 0x1.43ad8ff622f67p-1, 0x1.5431947ae147bp-1, 0x1.4450743ff5d7cp-1, 0x1.3e2c28f5c28f6p-1, 0x1.441bdb7b11359p-1}, 0x82350c2c6802e292ull, 0xff6559357ad6648bull},
    {{0x1.5aea5eb851eb8p-1, 0x1.44fd01cb5ec43p-1, 0x1.41c091eb851ecp-1, 0x1.48ba31bf29626p-1, 0x1.2345ce147ae14p-1, 0x1.4ce2e5325210ep-1}, 0x52e52a5cde1bdbf6ull, 0x1186de192cf21e8aull},
    {{0x1.5afd4p-1, 0x1.488d2c7d9ca1ep-1, 0x1.1f3a933333333p-1, 0x1.56d7d41475eep-1, 0x1.b72c3ae147ae1p-2, 0x1.6134f9a814632p-1}, 0x47c78720c75f4f39ull, 0xff04f46e3807291cull},
    {{0x1.5afd4p-1, 0x1.45ea9eafe57d4p-1, 0x1.237643d70a3d7p-1, 0x1.51906f3217f8ep-1, 0x1.c151d1eb851ecp-2, 0x1.57ea0a3cd5c2cp-1}, 0xb375ed1730834675ull, 0x29130e54ea4935bcull},
    {{0x1.628d4cccccccdp-1, 0x1.1c6b3fa982129p-1, 0x1.31ee5ae147ae1p-1, 0x1.1036c7a5714a1p-1, 0x1.0e581eb851eb8p-1, 0x1.06fce3780d0fdp-1}, 0xd8d2ede2e271e987ull, 0xf17edad067cd70d7ull}};

void expect_signature(const char* name, const Signature& got, const Signature& want, bool bitwise) {
  SCOPED_TRACE(name);
  if (std::getenv("RECKON_PRINT_FIXTURE") != nullptr) std::printf("%s: %s,\n", name, source_form(got).c_str());
  ASSERT_EQ(got.losses.size(), want.losses.size()) << "now " << source_form(got);
  for (std::size_t i = 0; i < got.losses.size(); ++i) {
    if (bitwise) {
      EXPECT_EQ(got.losses[i], want.losses[i]) << "loss " << i << "; now " << source_form(got);
    } else {
      EXPECT_NEAR(got.losses[i], want.losses[i], 1e-4 * std::abs(want.losses[i])) << "loss " << i;
    }
  }
  if (bitwise) {
    EXPECT_EQ(got.parameters, want.parameters) << "parameters; now " << source_form(got);
    EXPECT_EQ(got.state, want.state) << "optimizer state; now " << source_form(got);
  }
}

TEST(CtrFixture, TrainingIsBitwiseTheRecordedRun) {
  const bool bitwise = cpu_kind() == kRecordedOn;
  if (!bitwise) std::printf("CPU %s, fixture from %s: losses compared to 1e-4\n", cpu_kind().c_str(), kRecordedOn);
  const std::string dir = testing::temp_dir("ctr_fixture");
  const SyntheticResult s = write_synthetic_click_log(dir, {3000, 1000, 4});
  const Vocabulary v = build_vocabulary(s.train_path, {}, 1);
  const CtrDataset train_data = read_dataset(s.train_path, v, {}), valid = read_dataset(s.test_path, v, {});
  const std::vector<Case> cases = single_valued_cases();
  ASSERT_EQ(kWant.size(), cases.size() + 1);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    expect_signature(cases[i].name, run(cases[i].config, train_data, valid, v.field_rows()), kWant[i], bitwise);
  }
}

TEST(CtrFixture, BagsOfItemsAreBitwiseTheRecordedRun) {
  const bool bitwise = cpu_kind() == kRecordedOn;
  const std::string dir = testing::temp_dir("ctr_fixture_bags");
  std::ostringstream text;
  PhiloxStream rng(11, 0);
  for (int r = 0; r < 2400; ++r) {
    const int count = 1 + static_cast<int>(uniform_below(rng.next_u32(), 4));
    std::string items;
    bool hot = false;
    for (int k = 0; k < count; ++k) {
      const auto item = uniform_below(rng.next_u32(), 30);
      hot = hot || item == 3;
      items.append(k > 0 ? "|" : "").append("i").append(std::to_string(item));
    }
    const bool click = rng.next_uniform() < (hot ? 0.8f : 0.2f);
    text << (click ? 1 : 0) << "\tu" << uniform_below(rng.next_u32(), 40) << '\t' << items << '\n';
  }
  const std::string path = testing::write_file(dir, "train.tsv", text.str());
  const std::string schema = testing::write_file(dir, "s.txt", "delimiter = tab\nheader = false\nlabel = 0\n"
                                                               "categorical = 1\nmulti = 2:|\n");
  const ReadOptions options = read_options("schema:" + schema);
  const Vocabulary v = build_vocabulary(path, options, 1);
  const CtrDataset data = read_dataset(path, v, options);
  CtrModelConfig config = make(CtrModelKind::kDeepFm, SparseOptimizerKind::kAdam, DenseOptimizerKind::kAdam, 0.01f);
  config.field_widths = v.field_widths();
  ASSERT_EQ(kWant.size(), single_valued_cases().size() + 1);
  expect_signature("deepfm_bags", run(config, data, data, {v.rows(0), v.rows(1)}), kWant.back(), bitwise);
}

}  // namespace
}  // namespace reckon::ctr
