// Random identifiers.
#pragma once

#include <string>

namespace miroir::util {

// A random UUID, version 4, in its lowercase hyphenated form.
std::string random_uuid();

}  // namespace miroir::util
