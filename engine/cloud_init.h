// A domain's cloud-init NoCloud seed, as the engine sees it: the files of the `cidata` image made
// from the document's `cloud_init:` field, their content hash (what a plan records), and the
// redaction of secrets in anything shown to people (plans, logs, output).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/plan.h"
#include "engine/status.h"

namespace vc {

/// One file of the seed image's root directory.
struct SeedFile {
  std::string name;  // "meta-data", "network-config", "user-data"
  std::string content;

  bool operator==(const SeedFile&) const = default;
};

/// The seed files of a canonical `cloud_init` value, sorted by name: user-data (user_data as
/// written), meta-data (instance-id and local-hostname as YAML), network-config when declared.
std::vector<SeedFile> SeedFiles(const Json& cloud_init);

/// "sha256:<hex>" of the seed files (name, length and content of each, in order). The plan
/// records it; apply builds the image again from the document and refuses when it differs.
std::string SeedHash(const std::vector<SeedFile>& files);

/// The `cloud_init` value (without `pool`) that seed files read back from an image describe.
/// InvalidArgument when there is no meta-data or user-data, or meta-data is not the YAML
/// mapping SeedFiles writes.
StatusOr<Json> CloudInitFromSeedFiles(const std::vector<SeedFile>& files);

/// The volume a domain's seed is kept in: "<domain>-cidata.iso".
std::string SeedVolumeName(std::string_view domain);

/// `text` with the value of every key that looks secret (password, passwd, secret, token, key;
/// any case) replaced by "(redacted)": `key: value`, `key=value`, and the lines of a block
/// nested under such a key.
std::string RedactText(std::string_view text);

/// True when `text` holds a value RedactText wrote: "key: (redacted)", "key=(redacted)" or a
/// line "(redacted)" (a copy taken from a plan or from observe).
bool LooksRedacted(std::string_view text);

/// `value` with every string under a "user_data" or "network_config" key redacted
/// (RedactText), and the before/after of attribute changes whose path is cloud_init.user_data
/// or cloud_init.network_config; everything else as it is.
Json RedactSecrets(const Json& value);

/// A line diff of two texts for people: "-removed", "+added" lines, unchanged lines left out.
std::string TextDiff(std::string_view before, std::string_view after);

/// TextDiff of `before` and `after`, each line shown as the same line of `before_shown` and
/// `after_shown` (RedactText keeps lines one for one): a changed secret is a changed line.
std::string RedactedDiff(std::string_view before, std::string_view after,
                         std::string_view before_shown, std::string_view after_shown);

/// Replaces a domain change's whole-field "cloud_init" attribute with one per sub-field that
/// differs (cloud_init.pool, cloud_init.user_data, cloud_init.meta_data,
/// cloud_init.network_config), each as disruptive as the whole, its reason saying why and, for
/// texts, showing the (redacted) diff.
void SplitCloudInitAttributes(std::vector<AttributeChange>* attributes);

/// The observed `cloud_init` as compared with the declared one: with the declared on_change (a
/// policy: how to act on a changed seed, which the seed on the host does not hold).
Json SeedAsCompared(const Json& declared, const Json& observed);

/// A running domain whose seed was rewritten since it booted (fact seed_pending): the new seed
/// waits for its next boot, as a pending entry; nullopt otherwise.
std::optional<Pending> SeedPending(const ObservedResource& observed);

}  // namespace vc
