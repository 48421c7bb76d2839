#include "engine/cloud_init.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

namespace vc {
namespace {

const std::regex& SecretKey() {
  static const std::regex kSecret("password|passwd|secret|token|key", std::regex::icase);
  return kSecret;
}

std::size_t Indent(std::string_view line) {
  std::size_t n = 0;
  while (n < line.size() && (line[n] == ' ' || line[n] == '\t')) ++n;
  return n;
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<SeedFile> SeedFiles(const Json& cloud_init) {
  std::vector<SeedFile> files;
  const Json meta = cloud_init.value("meta_data", Json::object());
  std::string meta_text;
  // Quoted as JSON strings, which YAML reads as double-quoted scalars: any text stays one value.
  if (meta.contains("instance_id"))
    meta_text += "instance-id: " + meta["instance_id"].dump() + "\n";
  if (meta.contains("local_hostname")) {
    meta_text += "local-hostname: " + meta["local_hostname"].dump() + "\n";
  }
  files.push_back({"meta-data", meta_text});
  if (cloud_init.contains("network_config")) {
    files.push_back({"network-config", cloud_init["network_config"].get<std::string>()});
  }
  files.push_back({"user-data", cloud_init.value("user_data", "")});
  return files;
}

std::string SeedHash(const std::vector<SeedFile>& files) {
  std::string text;
  for (const SeedFile& f : files) {
    text += f.name + '\0' + std::to_string(f.content.size()) + '\0' + f.content;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

StatusOr<Json> CloudInitFromSeedFiles(const std::vector<SeedFile>& files) {
  Json out = Json::object();
  bool meta = false;
  bool user = false;
  for (const SeedFile& f : files) {
    if (f.name == "user-data") {
      out["user_data"] = f.content;
      user = true;
    } else if (f.name == "network-config") {
      out["network_config"] = f.content;
    } else if (f.name == "meta-data") {
      meta = true;
      Json m = Json::object();
      try {
        YAML::Node node = YAML::Load(f.content);
        if (!node.IsNull() && !node.IsMap()) {
          return Status::InvalidArgument("seed meta-data is not a mapping");
        }
        for (const auto& entry : node) {
          const std::string key = entry.first.as<std::string>();
          if (!entry.second.IsScalar()) continue;
          if (key == "instance-id") m["instance_id"] = entry.second.as<std::string>();
          if (key == "local-hostname") m["local_hostname"] = entry.second.as<std::string>();
        }
      } catch (const YAML::Exception& e) {
        return Status::InvalidArgument(std::string("seed meta-data is not YAML: ") + e.what());
      }
      out["meta_data"] = m;
    }
  }
  if (!meta || !user) return Status::InvalidArgument("the seed has no meta-data or user-data");
  return out;
}

std::string SeedVolumeName(std::string_view domain) { return std::string(domain) + "-cidata.iso"; }

std::string RedactText(std::string_view text) {
  static const std::regex kKeyValue(R"re(^(\s*-?\s*"?([A-Za-z0-9_.-]+)"?\s*[:=]\s*)(.*)$)re");
  std::string out;
  std::size_t block_indent = std::string::npos;  // inside a secret key's nested block
  for (const std::string& line : Lines(text)) {
    std::string shown = line;
    const std::size_t indent = Indent(line);
    const bool blank = indent == line.size();
    if (block_indent != std::string::npos && (blank || indent > block_indent)) {
      shown = blank ? line : line.substr(0, indent) + "(redacted)";
    } else {
      block_indent = std::string::npos;
      std::smatch m;
      if (std::regex_match(line, m, kKeyValue) && std::regex_search(m[2].str(), SecretKey())) {
        std::string value = m[3].str();
        if (value.empty() || value == "|" || value == ">" || value == "|-" || value == ">-") {
          block_indent = indent;  // the value is the block below
        } else {
          shown = m[1].str() + "(redacted)";
        }
      } else {
        // Inside flow collections and key=value lists: each secret-looking key's value.
        static const std::regex kInline(
            R"re(([A-Za-z0-9_.-]*(password|passwd|secret|token|key)[A-Za-z0-9_.-]*"?\s*[:=]\s*)("[^"]*"|'[^']*'|[^,}\]\s][^,}\]]*))re",
            std::regex::icase);
        shown = std::regex_replace(line, kInline, "$1(redacted)");
      }
    }
    out += shown + "\n";
  }
  if (!text.empty() && text.back() != '\n' && !out.empty()) out.pop_back();
  return out;
}

bool LooksRedacted(std::string_view text) {
  static const std::regex kRedacted(R"re((^|\n)[^\n]*([:=]\s*|^\s*|\n\s*)\(redacted\))re");
  return text.find("(redacted)") != std::string_view::npos &&
         std::regex_search(text.begin(), text.end(), kRedacted);
}

Json RedactSecrets(const Json& value) {
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& v : value) out.push_back(RedactSecrets(v));
    return out;
  }
  if (!value.is_object()) return value;
  Json out = Json::object();
  const std::string path = value.contains("path") && value["path"].is_string() ? value["path"] : "";
  const bool secret_attribute =
      path == "cloud_init.user_data" || path == "cloud_init.network_config";
  for (const auto& [key, v] : value.items()) {
    if ((key == "user_data" || key == "network_config") && v.is_string()) {
      out[key] = RedactText(v.get<std::string>());
    } else if (secret_attribute && (key == "before" || key == "after") && v.is_string()) {
      out[key] = RedactText(v.get<std::string>());
    } else {
      out[key] = RedactSecrets(v);
    }
  }
  return out;
}

std::string TextDiff(std::string_view before, std::string_view after) {
  return RedactedDiff(before, after, before, after);
}

std::string RedactedDiff(std::string_view before, std::string_view after,
                         std::string_view before_shown, std::string_view after_shown) {
  const std::vector<std::string> a = Lines(before);
  const std::vector<std::string> b = Lines(after);
  const std::vector<std::string> sa = Lines(before_shown);
  const std::vector<std::string> sb = Lines(after_shown);
  // Longest common subsequence; seeds are small (the document limits their size).
  std::vector<std::vector<int>> lcs(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i;
      ++j;
    } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "-" + (i < sa.size() ? sa[i] : a[i]) + "\n";
      ++i;
    } else {
      out += "+" + (j < sb.size() ? sb[j] : b[j]) + "\n";
      ++j;
    }
  }
  if (!out.empty()) out.pop_back();
  return out;
}

void SplitCloudInitAttributes(std::vector<AttributeChange>* attributes) {
  std::vector<AttributeChange> out;
  for (AttributeChange& a : *attributes) {
    if (a.path != "cloud_init" || !a.after.is_object()) {
      out.push_back(std::move(a));
      continue;
    }
    const Json before = a.before.is_object() ? a.before : Json::object();
    // on_change: next_boot, and the guest keeps its instance id: the seed is rewritten for the
    // guest's next boot, no restart. A new instance id is a new guest identity: still a restart.
    Disruption disruption = a.disruption;
    std::string policy;
    if (a.after.value("on_change", "restart") == "next_boot" &&
        a.disruption == Disruption::kRestart) {
      const Json was_meta = before.value("meta_data", Json::object());
      const Json now_meta = a.after.value("meta_data", Json::object());
      if (!was_meta.is_object() || !was_meta.contains("instance_id")) {
        policy = "; on_change: next_boot does not apply: the seed the guest has is unknown";
      } else if (was_meta.value("instance_id", "") != now_meta.value("instance_id", "")) {
        policy = "; on_change: next_boot does not apply: the instance id changes";
      } else {
        disruption = Disruption::kLive;
        policy =
            "rewritten in place, read by cloud-init at the guest's next boot (on_change: "
            "next_boot)";
      }
    }
    bool any = false;
    for (const char* sub : {"pool", "bus", "user_data", "meta_data", "network_config"}) {
      Json was = before.value(sub, Json());
      Json now = a.after.value(sub, Json());
      if (was == now) continue;
      any = true;
      // next_boot covers the seed's content; moving the CD-ROM (pool, bus) is hardware.
      const bool content = std::string(sub) != "pool" && std::string(sub) != "bus";
      const Disruption sub_disruption = content ? disruption : a.disruption;
      std::string why = a.reason.empty() ? "cloud-init reads its seed at boot" : a.reason;
      if (content) why = sub_disruption != a.disruption ? policy : why + policy;
      if (std::string(sub) == "user_data" || std::string(sub) == "network_config") {
        // Compared as written, shown redacted (line for line): a changed password shows as a
        // changed line, never its text.
        const std::string old_text = was.is_string() ? was.get<std::string>() : "";
        const std::string new_text = now.is_string() ? now.get<std::string>() : "";
        std::string diff =
            RedactedDiff(old_text, new_text, RedactText(old_text), RedactText(new_text));
        if (!diff.empty()) why += "; diff:\n" + diff;
      }
      if (std::string(sub) == "meta_data" && was.is_object() && now.is_object() &&
          was.value("instance_id", "") == now.value("instance_id", "")) {
        why +=
            "; the instance id is unchanged: cloud-init runs its per-instance modules again "
            "only for a new instance id";
      }
      out.push_back({std::string("cloud_init.") + sub, was, now, sub_disruption, why});
    }
    if (!any) out.push_back(std::move(a));
  }
  *attributes = std::move(out);
}

Json SeedAsCompared(const Json& declared, const Json& observed) {
  if (!declared.is_object() || !declared.contains("on_change") || !observed.is_object()) {
    return observed;
  }
  Json out = observed;
  out["on_change"] = declared["on_change"];
  return out;
}

std::optional<Pending> SeedPending(const ObservedResource& observed) {
  if (!observed.live.is_object() || !observed.facts.is_object() ||
      !observed.facts.value("seed_pending", false)) {
    return std::nullopt;
  }
  return Pending{observed.address, "cloud_init", "the seed it booted with",
                 "the seed written since", "cloud-init reads its seed at boot"};
}

}  // namespace vc
