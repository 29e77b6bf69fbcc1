// Checkpoint loaders (CTR models and item2vec) on arbitrary bodies. The input is the body; the harness appends
// the checksum the loaders verify, so the fuzzer reaches the parsing behind it (headers, sizes, tensors) rather
// than stopping at a checksum mismatch. Byte 0 picks the loader and whether the checksum is appended.
#include <string>

#include "fuzz_util.h"
#include "reckon/models/ctr/checkpoint.h"
#include "reckon/models/item2vec/item2vec.h"
#include "reckon/runtime/context.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reckon;
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 2) == 0) {
    const std::uint64_t sum = fnv1a(bytes);
    bytes.append(reinterpret_cast<const char*>(&sum), sizeof(sum));
  }
  const std::string path = fuzz::input_file(bytes, "_checkpoint");
  Context ctx(Device::cpu());
  if ((data[0] & 1) == 0) {
    fuzz::accept_or_refuse("ctr::load_checkpoint", [&] { (void)ctr::load_checkpoint(path, ctx); });
  } else {
    fuzz::accept_or_refuse("Item2Vec::load", [&] { (void)item2vec::Item2Vec::load(ctx, path); });
  }
  return 0;
}
