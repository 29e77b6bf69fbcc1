// Every kernel op's implementations in dispatch order, with what each needs (`reckon info --kernels`).
#pragma once

#include <vector>

#include "reckon/runtime/dispatch.h"

namespace reckon {

std::vector<OpDescription> kernel_catalogue();

namespace detail {
// Each family's ops, defined beside its implementation lists.
std::vector<OpDescription> conv3d_ops();
std::vector<OpDescription> dense_ops();
std::vector<OpDescription> embedding_ops();
std::vector<OpDescription> fm_ops();
std::vector<OpDescription> gru_ops();
std::vector<OpDescription> optim_ops();
std::vector<OpDescription> random_ops();
std::vector<OpDescription> skipgram_ops();
std::vector<OpDescription> softmax_ops();
std::vector<OpDescription> topk_ops();
std::vector<OpDescription> logmel_ops();
}  // namespace detail

}  // namespace reckon
