// Schema files (--format schema:FILE) on arbitrary text, and data read through a schema that parsed: the input is
// the schema, a line "--", then the data.
#include <memory>
#include <string>

#include "fuzz_util.h"
#include "reckon/models/ctr/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reckon;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find("\n--\n");
  const std::string_view schema_text = input.substr(0, split);
  const std::string_view rows = split == std::string_view::npos ? std::string_view() : input.substr(split + 4);
  fuzz::accept_or_refuse("schema", [&] {
    ctr::ReadOptions options = ctr::read_options("schema:" + fuzz::input_file(schema_text, "_schema"));
    const std::string path = fuzz::input_file(rows, "_rows");
    const ctr::Vocabulary vocabulary = ctr::build_vocabulary(path, options, 1);
    (void)ctr::read_dataset(path, vocabulary, options);
    options.labels = ctr::LabelColumn::kDetect;
    (void)ctr::parse_rows(rows, vocabulary, options);
  });
  return 0;
}
