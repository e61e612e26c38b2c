#include "delta_command.hpp"

#include <cstdio>
#include <iostream>
#include <memory>
#include <molt/build_id.hpp>

#include "util/atomic_file.hpp"
#include "util/mapped_file.hpp"
#include "util/patch.hpp"
#include "util/sys.hpp"

namespace molt::cli {
namespace {

struct DeltaOptions {
  std::string from, to, output;
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "molt delta: " << message << "\n";
  throw CLI::RuntimeError(1);
}

void delta(const DeltaOptions& opt) {
  std::string error;
  std::optional<std::string> from_id = read_build_id(opt.from, error);
  if (!from_id) fail(error);
  std::optional<internal::MappedFile> from = internal::MappedFile::open(opt.from, error);
  if (!from) fail(error);
  std::optional<internal::MappedFile> to = internal::MappedFile::open(opt.to, error);
  if (!to) fail(error);
  std::optional<std::string> patch = internal::make_patch(from->bytes(), to->bytes(), error);
  if (!patch) fail(opt.output + ": " + error);
  error = internal::write_file_atomically(internal::real_sys(), opt.output, *patch, 0644);
  if (!error.empty()) fail(error);
  char share[32];
  std::snprintf(share, sizeof share, "%.2f%%",
                100.0 * static_cast<double>(patch->size()) /
                    static_cast<double>(std::max<std::size_t>(to->bytes().size(), 1)));
  std::cout << opt.output << ": " << patch->size() << " bytes, " << share << " of " << opt.to
            << "\npublish it beside the artifact as <source>.patch/"
            << internal::patch_name(*from_id)
            << "\nor, in a GitHub release, as the asset <ASSET>.patch."
            << internal::patch_name(*from_id) << "\n";
}

}  // namespace

void add_delta_command(CLI::App& app) {
  auto opt = std::make_shared<DeltaOptions>();
  CLI::App* command = app.add_subcommand(
      "delta",
      "Make a delta update from one build to the next (zstd --patch-from): masters running OLD "
      "download it instead of NEW and check the rebuilt file against NEW's signature");
  command->add_option("--from", opt->from, "the build hosts run now")->required();
  command->add_option("--to", opt->to, "the new build (sign it as usual)")->required();
  command->add_option("-o,--output", opt->output, "the patch to write")->required();
  command->callback([opt] { delta(*opt); });
}

}  // namespace molt::cli
