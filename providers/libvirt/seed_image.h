// The cloud-init NoCloud seed image: an ISO 9660 file system (with Rock Ridge and Joliet) whose
// volume id is "cidata" and whose root holds the seed files, built and read in memory with
// libisofs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/cloud_init.h"
#include "engine/status.h"

namespace vc::libvirt {

/// A running domain whose seed was rewritten after it booted carries
/// <vcseed:pending seed="sha256:..."/> in this namespace in its running definition only.
inline constexpr const char* kSeedPendingNamespace =
    "https://virtconverge.dev/xmlns/seed-pending/1";

/// The image bytes for `files` (names as given, in the root directory). The same files always
/// give the same bytes: every timestamp is fixed. Internal when libisofs fails.
StatusOr<std::string> BuildSeedImage(const std::vector<SeedFile>& files);

/// The regular files of the root directory of the ISO 9660 image `image`, sorted by name.
/// InvalidArgument when it is not an image or its volume id is not "cidata". Bytes after the
/// image's end (a volume larger than the image) are ignored.
StatusOr<std::vector<SeedFile>> ReadSeedImage(std::string_view image);

}  // namespace vc::libvirt
