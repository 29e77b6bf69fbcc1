// item2vec's input files on arbitrary bytes: word2vec vectors (text or binary), sentences, session logs (both
// formats), analogy questions and similarity pairs. Byte 0 picks the reader.
#include <string>

#include "fuzz_util.h"
#include "reckon/models/item2vec/corpus.h"
#include "reckon/models/item2vec/evaluate.h"
#include "reckon/models/item2vec/vectors.h"
#include "reckon/runtime/context.h"

namespace reckon::fuzz {
namespace {

// Vectors for the evaluation readers: a few words of an analogy file and a similarity file.
const item2vec::KeyedVectors& known_vectors() {
  static const item2vec::KeyedVectors v = [] {
    item2vec::KeyedVectors k;
    k.dim = 4;
    for (const char* word : {"athens", "greece", "baghdad", "iraq", "love", "sex", "tiger", "cat"}) {
      k.tokens.emplace_back(word);
      for (int d = 0; d < 4; ++d) k.vectors.push_back(static_cast<float>((k.tokens.size() * 7 + d * 3) % 11) - 5.0f);
    }
    k.build_index();
    return k;
  }();
  return v;
}

}  // namespace
}  // namespace reckon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reckon;
  if (size < 1) return 0;
  const std::string path =
      fuzz::input_file(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), "_item2vec");
  switch (data[0] % 6) {
    case 0: fuzz::accept_or_refuse("load_word2vec", [&] { (void)item2vec::load_word2vec(path); }); break;
    case 1:
      fuzz::accept_or_refuse("read_sequences text", [&] {
        (void)item2vec::read_sequences(path, item2vec::CorpusFormat::kText, 1 + data[0] / 6);
      });
      break;
    case 2:
      fuzz::accept_or_refuse("sessions-tsv", [&] {
        (void)item2vec::read_sequences(path, item2vec::CorpusFormat::kSessionsTsv, 1 + data[0] / 6);
      });
      break;
    case 3:
      fuzz::accept_or_refuse("diginetica", [&] {
        const item2vec::SessionLog log = item2vec::read_session_log(path, item2vec::CorpusFormat::kDiginetica);
        (void)item2vec::read_sequences(path, item2vec::CorpusFormat::kDiginetica);
        (void)log;
      });
      break;
    case 4:
      fuzz::accept_or_refuse("analogies", [&] {
        Context ctx(Device::cpu());
        (void)item2vec::evaluate_analogies(ctx, fuzz::known_vectors(), path);
      });
      break;
    case 5:
      fuzz::accept_or_refuse("similarity", [&] { (void)item2vec::evaluate_similarity(fuzz::known_vectors(), path); });
      break;
  }
  return 0;
}
