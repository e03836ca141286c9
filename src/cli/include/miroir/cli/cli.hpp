// The operator subcommands (`miroir status`, `miroir nodes list`, `miroir verify`): clients of
// a running Miroir's admin API that print what it says for a person (or, with --json, as is).
#pragma once

#include <string>
#include <vector>

namespace miroir::cli {

// Whether `command` is an operator subcommand.
bool is_operator_command(const std::string& command);

// Runs `command` with its arguments; returns the process exit code (0 fine, 1 the check
// found problems, 2 usage or connection error).
int run(const std::string& command, const std::vector<std::string>& args);

}  // namespace miroir::cli
