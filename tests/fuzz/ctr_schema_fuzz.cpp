// Schema files (--format schema:FILE) on arbitrary text, and data read through a schema that parsed: the input is
// the schema, a line "--", then the data.
#include <memory>
#include <string>

#include "fuzz_util.h"
#include "reckon/models/ctr/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reckon;
  const auto files = fuzz::two_files(data, size);
  const std::string_view schema_text = files.first, rows = files.second;  // named: lambdas capture them
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
