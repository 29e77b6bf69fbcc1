// `reckon info`: the build configuration, the CPU, and the CUDA devices that answer.
#include <fmt/format.h>
#include <omp.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "commands.h"
#include "reckon/config.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/runtime/device.h"

namespace reckon::cli {
namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string version_string(int v) { return v == 0 ? "n/a" : fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }

nlohmann::json collect_info() {
  nlohmann::json info;
  info["version"] = RECKON_VERSION_STRING;
  info["build"] = {
      {"type", RECKON_BUILD_TYPE},
      {"cxx_compiler", RECKON_CXX_COMPILER},
      {"cuda", static_cast<bool>(RECKON_WITH_CUDA)},
      {"cuda_compiler", RECKON_CUDA_COMPILER_VERSION},
      {"cuda_architectures", RECKON_CUDA_ARCHITECTURES},
      {"cudnn", static_cast<bool>(RECKON_WITH_CUDNN)},
      {"cudnn_version", RECKON_CUDNN_VERSION_STRING},
      {"cpu_blas", RECKON_BLAS_VENDOR},
      {"cpu_gemm", RECKON_CPU_GEMM},
  };
  info["cpu"] = {{"model", cpu_model_name()},
                 {"hardware_threads", std::thread::hardware_concurrency()},
                 {"openmp_threads", omp_get_max_threads()}};
  nlohmann::json devices = nlohmann::json::array();
  for (const CudaDeviceInfo& d : cuda_devices()) {
    devices.push_back({{"index", d.index},
                       {"name", d.name},
                       {"compute_capability", fmt::format("{}.{}", d.compute_major, d.compute_minor)},
                       {"multiprocessors", d.multiprocessors},
                       {"memory_gib", static_cast<double>(d.global_memory_bytes) / (1u << 30)},
                       {"l2_cache_mib", static_cast<double>(d.l2_cache_bytes) / (1u << 20)},
                       {"shared_memory_per_block_optin_kib", d.shared_memory_per_block_optin / 1024},
                       {"peak_memory_bandwidth_gbs", d.peak_memory_bandwidth_gbs()}});
  }
  info["cuda"] = {{"available", cuda_available()},
                  {"driver_version", version_string(cuda_driver_version())},
                  {"runtime_version", version_string(cuda_runtime_version())},
                  {"devices", devices}};
  if (!cuda_available()) info["cuda"]["reason"] = cuda_unavailable_reason();
  try {
    info["default_device"] = default_device().str();
  } catch (const std::exception& e) {
    info["default_device"] = nullptr;
    info["default_device_error"] = e.what();
  }
  return info;
}

void print_text(const nlohmann::json& info) {
  const auto& b = info["build"];
  fmt::print("reckon {}\n\n", info["version"].get<std::string>());
  fmt::print("build\n");
  fmt::print("  type              {}\n", b["type"].get<std::string>());
  fmt::print("  C++ compiler      {}\n", b["cxx_compiler"].get<std::string>());
  if (b["cuda"].get<bool>()) {
    fmt::print("  CUDA              yes (nvcc {}, architectures {})\n", b["cuda_compiler"].get<std::string>(),
               b["cuda_architectures"].get<std::string>());
  } else {
    fmt::print("  CUDA              no\n");
  }
  fmt::print("  cuDNN             {}\n",
             b["cudnn"].get<bool>() ? "yes (" + b["cudnn_version"].get<std::string>() + ")" : std::string("no"));
  fmt::print("  CPU GEMM          {}\n\n", b["cpu_gemm"].get<std::string>());
  fmt::print("cpu\n  {}, {} hardware threads, {} OpenMP threads\n\n", info["cpu"]["model"].get<std::string>(),
             info["cpu"]["hardware_threads"].get<unsigned>(), info["cpu"]["openmp_threads"].get<int>());
  const auto& cuda = info["cuda"];
  fmt::print("cuda (driver {}, runtime {})\n", cuda["driver_version"].get<std::string>(),
             cuda["runtime_version"].get<std::string>());
  if (!cuda["available"].get<bool>()) fmt::print("  no GPU: {}\n", cuda["reason"].get<std::string>());
  for (const auto& d : cuda["devices"]) {
    fmt::print("  cuda:{}  {}  sm_{}  {} SMs  {:.1f} GiB  L2 {:.0f} MiB  peak {:.0f} GB/s\n", d["index"].get<int>(),
               d["name"].get<std::string>(), d["compute_capability"].get<std::string>(), d["multiprocessors"].get<int>(),
               d["memory_gib"].get<double>(), d["l2_cache_mib"].get<double>(),
               d["peak_memory_bandwidth_gbs"].get<double>());
  }
  if (info["default_device"].is_null()) {
    fmt::print("\ndefault device: error: {}\n", info["default_device_error"].get<std::string>());
  } else {
    fmt::print("\ndefault device: {} (RECKON_DEVICE=cpu|cuda|cuda:N|auto)\n", info["default_device"].get<std::string>());
  }
}


// Every op's implementations in dispatch order and what each needs; an implementation this build lacks says so.
nlohmann::json collect_kernels() {
  nlohmann::json ops = nlohmann::json::array();
  for (const OpDescription& op : kernel_catalogue()) {
    nlohmann::json impls = nlohmann::json::array();
    for (const auto& [name, needs] : op.implementations) impls.push_back({{"name", name}, {"needs", needs}});
    ops.push_back({{"op", op.op}, {"implementations", impls}});
  }
  return ops;
}

void print_kernels(const nlohmann::json& ops) {
  fmt::print("\nkernels (implementations in dispatch order; RECKON_VERBOSE=1 logs each choice and the refusals)\n");
  for (const auto& op : ops) {
    fmt::print("  {}\n", op["op"].get<std::string>());
    for (const auto& impl : op["implementations"]) {
      fmt::print("    {:<24} {}\n", impl["name"].get<std::string>(), impl["needs"].get<std::string>());
    }
  }
}

}  // namespace

void add_info_command(CLI::App& app) {
  struct InfoArgs {
    CommonOptions common;
    bool kernels = false;
  };
  auto* cmd = app.add_subcommand("info", "Print the build configuration and the devices found");
  auto a = std::make_shared<InfoArgs>();
  cmd->add_flag("--kernels", a->kernels, "Also list every kernel op's implementations and what each needs");
  add_common_options(cmd, a->common, kJson);
  set_run(cmd, &a->common, [a] {
    nlohmann::json info = collect_info();
    if (a->kernels) info["kernels"] = collect_kernels();
    return info;
  }, [](const nlohmann::json& info) {
    print_text(info);
    if (info.contains("kernels")) print_kernels(info["kernels"]);
  });
}

}  // namespace reckon::cli
