// Dispatch: every op walks an ordered list of implementations and runs the first that accepts the problem.
//
// An implementation names itself, says in words what it needs (for `reckon info --kernels`), answers
// supported(ctx, problem) with a Status whose message is the reason it refuses, may declare the scratch it takes
// from the context's workspace, and runs. The list is fixed per op (fastest or most specialised first, the CPU
// last); a caller can ask which implementation served an op last on this thread and why the ones before it were
// refused (last_dispatch), and RECKON_VERBOSE=1 logs each choice to stderr. (After oneDNN's ordered implementation
// lists and CUTLASS's can_implement.)
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reckon/runtime/context.h"
#include "reckon/runtime/error.h"

namespace reckon {

template <typename Problem>
struct Implementation {
  const char* name;
  const char* needs;  // what it needs, in words
  Status (*supported)(const Context& ctx, const Problem& problem);
  void (*run)(Context& ctx, const Problem& problem);
  std::size_t (*workspace_bytes)(const Problem& problem) = nullptr;  // null: none
};

template <typename Problem, std::size_t N>
struct ImplementationList {
  const char* op;
  std::array<Implementation<Problem>, N> implementations;
};

// The choice made for an op's last call on this thread.
struct DispatchChoice {
  std::string op;
  std::string implementation;                              // empty when none accepted
  std::vector<std::pair<std::string, std::string>> refused;  // (implementation, reason), in list order
  std::size_t workspace_bytes = 0;
};
// kInvalidArgument when `op` has not run on this thread.
DispatchChoice last_dispatch(std::string_view op);

// For `reckon info --kernels`: an op's implementations in order, and what each needs.
struct OpDescription {
  std::string op;
  std::vector<std::pair<std::string, std::string>> implementations;  // (name, needs)
};
template <typename Problem, std::size_t N>
OpDescription describe(const ImplementationList<Problem, N>& list) {
  OpDescription d{list.op, {}};
  for (const auto& i : list.implementations) d.implementations.emplace_back(i.name, i.needs);
  return d;
}

// Reasons shared by many implementations.
Status requires_cuda_context(const Context& ctx);  // also: "this build has no CUDA" where it was not compiled
Status requires_cpu_context(const Context& ctx);

// The common list: one CUDA implementation, then the CPU's.
template <typename Problem>
constexpr ImplementationList<Problem, 2> cuda_then_cpu(const char* op, const char* cuda_name, const char* cuda_needs,
                                                       void (*cuda)(Context&, const Problem&),
                                                       void (*cpu)(Context&, const Problem&)) {
  return {op,
          {{{cuda_name, cuda_needs, [](const Context& c, const Problem&) { return requires_cuda_context(c); }, cuda},
            {"cpu", "a CPU context", [](const Context& c, const Problem&) { return requires_cpu_context(c); }, cpu}}}};
}

namespace detail {
// The refusals of the current dispatch, reused across calls on a thread.
struct DispatchNotes {
  const char* op = nullptr;
  std::vector<std::pair<const char*, std::string>> refused;
};
DispatchNotes& begin_dispatch(const char* op);
void note_choice(const DispatchNotes& notes, const char* implementation, std::size_t workspace_bytes);
[[noreturn]] void throw_none_accepted(const DispatchNotes& notes);
}  // namespace detail

template <typename Problem, std::size_t N>
void dispatch(Context& ctx, const ImplementationList<Problem, N>& list, const Problem& problem) {
  detail::DispatchNotes& notes = detail::begin_dispatch(list.op);
  for (const Implementation<Problem>& impl : list.implementations) {
    Status status = impl.supported(ctx, problem);
    if (!status.is_ok()) {
      notes.refused.emplace_back(impl.name, status.message());
      continue;
    }
    const std::size_t bytes = impl.workspace_bytes != nullptr ? impl.workspace_bytes(problem) : 0;
    detail::note_choice(notes, impl.name, bytes);
    impl.run(ctx, problem);
    return;
  }
  detail::throw_none_accepted(notes);
}

}  // namespace reckon
