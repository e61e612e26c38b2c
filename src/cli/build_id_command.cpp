#include "build_id_command.hpp"

#include <iostream>
#include <memory>
#include <molt/build_id.hpp>

namespace molt::cli {

void add_build_id_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "build-id",
      "Print the BuildID of an executable (its molt note, else its GNU build-id, else "
      "sha256-<hex of the file>)");
  command->add_option("FILE", *file, "the executable")->required();
  command->callback([file] {
    std::string error;
    std::optional<std::string> id = read_build_id(*file, error);
    if (!id) {
      std::cerr << "molt build-id: " << error << "\n";
      throw CLI::RuntimeError(1);
    }
    std::cout << *id << "\n";
  });
}

}  // namespace molt::cli
