#include "reckon/kernels/catalogue.h"

namespace reckon {

std::vector<OpDescription> kernel_catalogue() {
  std::vector<OpDescription> all;
  for (auto family : {detail::conv3d_ops, detail::dense_ops, detail::embedding_ops, detail::fm_ops, detail::gru_ops, detail::logmel_ops, detail::optim_ops,
                      detail::random_ops, detail::skipgram_ops, detail::softmax_ops, detail::topk_ops}) {
    for (OpDescription& op : family()) all.push_back(std::move(op));
  }
  return all;
}

}  // namespace reckon
