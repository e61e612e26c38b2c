// Writing a whole buffer to a descriptor (pipes, terminals), retrying short writes and EINTR.
#pragma once

#include <string_view>

namespace molt::internal {

// False when a write fails (errno says why).
bool write_all(int fd, std::string_view bytes);

}  // namespace molt::internal
