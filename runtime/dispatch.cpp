#include "reckon/runtime/dispatch.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "reckon/config.h"

namespace reckon {
namespace {

bool verbose() {
  static const bool enabled = [] {
    const char* env = std::getenv("RECKON_VERBOSE");
    return env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0;
  }();
  return enabled;
}

struct ThreadDispatch {
  detail::DispatchNotes current;
  std::map<std::string, DispatchChoice, std::less<>> last;
};
ThreadDispatch& thread_dispatch() {
  thread_local ThreadDispatch state;
  return state;
}

DispatchChoice& remember(const detail::DispatchNotes& notes, const char* implementation, std::size_t bytes) {
  DispatchChoice& c = thread_dispatch().last[notes.op];
  if (c.op.empty()) c.op = notes.op;
  c.implementation = implementation != nullptr ? implementation : "";
  c.workspace_bytes = bytes;
  c.refused.clear();
  for (const auto& [name, why] : notes.refused) c.refused.emplace_back(name, why);
  return c;
}

}  // namespace

Status requires_cuda_context(const Context& ctx) {
#if RECKON_WITH_CUDA
  if (ctx.is_cuda()) return Status::ok();
  return {StatusCode::kUnsupported, "not a CUDA context"};
#else
  (void)ctx;
  return {StatusCode::kNotCompiled, "this build has no CUDA"};
#endif
}

Status requires_cpu_context(const Context& ctx) {
  if (ctx.device().is_cpu()) return Status::ok();
  return {StatusCode::kUnsupported, "not a CPU context"};
}

DispatchChoice last_dispatch(std::string_view op) {
  const auto& last = thread_dispatch().last;
  const auto found = last.find(op);
  RECKON_CHECK_ARG(found != last.end(), "no call of ", op, " on this thread yet");
  return found->second;
}

namespace detail {

DispatchNotes& begin_dispatch(const char* op) {
  DispatchNotes& notes = thread_dispatch().current;
  notes.op = op;
  notes.refused.clear();
  return notes;
}

void note_choice(const DispatchNotes& notes, const char* implementation, std::size_t workspace_bytes) {
  const DispatchChoice& c = remember(notes, implementation, workspace_bytes);
  if (!verbose()) return;
  std::string line = concat("reckon: ", c.op, " -> ", c.implementation);
  for (std::size_t i = 0; i < c.refused.size(); ++i) {
    line += concat(i == 0 ? " (refused: " : "; ", c.refused[i].first, ": ", c.refused[i].second);
  }
  if (!c.refused.empty()) line += ")";
  std::fprintf(stderr, "%s\n", line.c_str());
}

void throw_none_accepted(const DispatchNotes& notes) {
  const DispatchChoice& c = remember(notes, nullptr, 0);
  std::string why;
  for (const auto& [name, reason] : c.refused) why += concat(why.empty() ? "" : "; ", name, ": ", reason);
  // Not compiled in when every refusal says so; otherwise this request is beyond what is built.
  bool not_compiled = !c.refused.empty();
  for (const auto& r : notes.refused) not_compiled = not_compiled && r.second == "this build has no CUDA";
  RECKON_THROW(not_compiled ? StatusCode::kNotCompiled : StatusCode::kUnsupported, c.op,
               ": no implementation accepts this call (", why, ")");
}

}  // namespace detail
}  // namespace reckon
