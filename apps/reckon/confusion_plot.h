#pragma once
// A confusion matrix drawn as a PNG heat map (cairo): rows the true class, columns the predicted one, each cell shaded
// by its share of the row (the row's recall on the diagonal) and labelled with its count.
#include <cstdint>
#include <string>
#include <vector>

namespace reckon::cli {

// counts[true · classes + predicted], classes = names.size(). Throws reckon::Error (kIoError) naming `path` when the
// image cannot be written, kInvalidArgument when the sizes disagree.
void write_confusion_png(const std::string& path, const std::string& title, const std::vector<std::string>& names,
                         const std::vector<std::int64_t>& counts);

}  // namespace reckon::cli
