// CTR readers on arbitrary text: the vocabulary pass and the row parser of every format, labelled or not, with
// bad rows skipped or fatal. Byte 0 picks the format and options; the rest is the file.
#include <memory>
#include <string>

#include "fuzz_util.h"
#include "reckon/models/ctr/dataset.h"

namespace reckon::fuzz {
namespace {

constexpr const char* kSchema =
    "delimiter = ,\nheader = true\nlabel = click\ncategorical = site, app\nnumeric = price\nmulti = genres:|\n";

// A small training file per format, for the vocabulary the fuzzed rows are read through.
const char* training_text(ctr::CtrFormat format) {
  switch (format) {
    case ctr::CtrFormat::kCriteo:
      return "1\t1\t2\t\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\tn\to\tp\tq\tr\ts\tt\t"
             "u"
             "\tv\tw\tx\ty\tz\n"
             "0\t\t3\t300\t\t\t\t\t\t\t\t\t\t\ta\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm\tn\to\tp\tq\tr\ts\tt\tu\tv\tw\tx"
             "\ty\t\n";
    case ctr::CtrFormat::kAvazu:
      return "id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,"
             "device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21\n"
             "1,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,"
             "15706,320,50,1722,0,35,-1,79\n";
    case ctr::CtrFormat::kLibffm: return "1 0:1:1 1:5:0.5 2:7:1\n0 0:2:1 2:3:0.25\n";
    case ctr::CtrFormat::kLibsvm: return "1 3:1 7:0.5\n-1 2:1\n";
    case ctr::CtrFormat::kSchema: return "click,site,app,price,genres\n1,a,x,2.5,p|q\n0,b,y,,r\n";
  }
  return "";
}

struct Reader {
  ctr::ReadOptions options;
  ctr::Vocabulary counted, hashed;
};

const Reader& reader(ctr::CtrFormat format) {
  static std::unique_ptr<Reader> readers[5];
  auto& r = readers[static_cast<int>(format)];
  if (!r) {
    r = std::make_unique<Reader>();
    if (format == ctr::CtrFormat::kSchema) {
      r->options = ctr::read_options("schema:" + input_file(kSchema, "_schema"));
    } else {
      r->options = ctr::read_options(ctr::to_string(format));
    }
    const std::string path = input_file(training_text(format), "_train");
    r->counted = ctr::build_vocabulary(path, r->options, 1);
    r->hashed = ctr::build_vocabulary(path, r->options, 1, 97);
  }
  return *r;
}

}  // namespace
}  // namespace reckon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reckon;
  if (size < 1) return 0;
  const auto format = static_cast<ctr::CtrFormat>(data[0] % 5);
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const fuzz::Reader& base = fuzz::reader(format);
  ctr::ReadOptions options = base.options;
  options.bad_rows = (data[0] >> 3) & 1 ? ctr::BadRowPolicy::kFail : ctr::BadRowPolicy::kSkip;
  options.labels = static_cast<ctr::LabelColumn>(((data[0] >> 4) & 3) % 3);
  const ctr::Vocabulary& vocabulary = (data[0] >> 6) & 1 ? base.hashed : base.counted;
  fuzz::accept_or_refuse("parse_rows", [&] { (void)ctr::parse_rows(text, vocabulary, options); });
  // The file as training data: its own vocabulary, then the rows read through it.
  if ((data[0] >> 7) & 1) {
    const std::string path = fuzz::input_file(text, "_rows");
    fuzz::accept_or_refuse("build_vocabulary + read_dataset", [&] {
      const ctr::Vocabulary own = ctr::build_vocabulary(path, options, 1);
      (void)ctr::read_dataset(path, own, options);
    });
  }
  return 0;
}
