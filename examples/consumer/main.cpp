// Uses the installed reckon: picks a device, fills a tensor from the shared Philox streams, then trains a small FM
// on a synthetic click log, saves it, loads it back as a server would and scores rows held in memory.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "reckon/kernels/random/random.h"
#include "reckon/models/ctr/checkpoint.h"
#include "reckon/models/ctr/dataset.h"
#include "reckon/models/ctr/model.h"
#include "reckon/models/ctr/synthetic.h"
#include "reckon/models/ctr/trainer.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/memory.h"

namespace {

// Train and save a model (what `reckon ctr train --save` does), then score a request in a fresh context.
bool serve_ctr(reckon::Context& ctx) {
  const std::string dir = (std::filesystem::temp_directory_path() / "reckon_consumer").string();
  const reckon::ctr::SyntheticResult log = reckon::ctr::write_synthetic_click_log(dir, {100'000, 10'000, 7});
  const reckon::ctr::Vocabulary vocabulary = reckon::ctr::build_vocabulary(log.train_path, {}, /*min_count=*/1);
  const std::vector<std::int64_t> rows = vocabulary.field_rows();
  reckon::ctr::CtrModelConfig config;
  config.kind = reckon::ctr::CtrModelKind::kFm;
  config.sparse_learning_rate = config.dense_learning_rate = 0.003f;
  reckon::ctr::CtrModel model(ctx, config, rows);
  const reckon::ctr::CtrDataset train = reckon::ctr::read_dataset(log.train_path, vocabulary, {});
  const reckon::ctr::CtrDataset test = reckon::ctr::read_dataset(log.test_path, vocabulary, {});
  reckon::ctr::TrainOptions options;
  options.epochs = 2;
  options.batch_size = 512;
  options.progress = false;
  const reckon::ctr::TrainResult trained = reckon::ctr::train(model, train, test, options);
  const std::string checkpoint = dir + "/fm.ckpt";
  reckon::ctr::save_checkpoint(checkpoint, model, vocabulary);

  // Serving: the checkpoint carries the vocabulary; requests are rows in the training format, here without labels.
  reckon::Context server(ctx.device());
  reckon::ctr::LoadedModel loaded = reckon::ctr::load_checkpoint(checkpoint, server);
  std::ifstream in(log.test_path);
  std::string request, line;
  for (int i = 0; i < 3 && std::getline(in, line); ++i) request += line.substr(line.find('\t') + 1) + "\n";
  reckon::ctr::ReadOptions read;
  read.labels = reckon::ctr::LabelColumn::kDetect;
  const reckon::ctr::CtrDataset batch = reckon::ctr::parse_rows(request, loaded.vocabulary, read, "request");
  const std::vector<float> p = reckon::ctr::predict(*loaded.model, batch);
  std::printf("reckon consumer: FM validation AUC %.3f; request of %lld rows (labeled: %s) scored %.3f %.3f %.3f\n",
              trained.auc, static_cast<long long>(batch.size()), batch.labeled ? "yes" : "no", p[0], p[1], p[2]);
  // A whole file, a batch at a time as it is read.
  double sum = 0;
  const reckon::ctr::ScoredFile scored =
      reckon::ctr::predict_file(*loaded.model, log.test_path, loaded.vocabulary, {}, 4096,
                                [&](const std::vector<float>& probabilities, const std::vector<float>&) {
                                  for (float x : probabilities) sum += x;
                                });
  std::printf("reckon consumer: %lld rows of %s scored a batch at a time, mean click probability %.3f\n",
              static_cast<long long>(scored.rows), log.test_path.c_str(), sum / static_cast<double>(scored.rows));
  std::filesystem::remove_all(dir);
  return trained.auc > 0.6 && batch.size() == 3 && !batch.labeled && p[0] > 0 && p[0] < 1 && scored.rows == 10'000;
}

}  // namespace

int main() {
  try {
    reckon::Context ctx(reckon::default_device(), /*seed=*/42);
    reckon::Tensor t = reckon::Tensor::empty(ctx, reckon::DType::kF32, {1000});
    reckon::random_uniform(ctx, t, 0.0f, 1.0f);
    reckon::Tensor host = t.to(ctx, reckon::Device::cpu());
    ctx.synchronize();
    double sum = 0;
    for (int i = 0; i < 1000; ++i) sum += host.data<float>()[i];
    std::printf("reckon consumer: device %s, mean of 1000 uniforms %.4f\n", ctx.device().str().c_str(), sum / 1000);
    if (sum <= 400 || sum >= 600) return 1;
    return serve_ctr(ctx) ? 0 : 1;
  } catch (const reckon::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
