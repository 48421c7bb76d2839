// The document directories a `virtconverge server` is given (--documents DIR): the documents the
// review page can pick and drift is computed for. Only plain *.yaml, *.yml and *.json files
// directly in a directory count, named with letters, digits and _ . + - (the API puts the name in
// a URL path); a name found in two directories is the first one's.
#pragma once

#include <string>
#include <vector>

namespace vc::cli {

struct DocumentFile {
  std::string name;       // the file name, e.g. "site.yaml": how the API names it
  std::string directory;  // the directory it is in, as given
  std::string path;
};

/// The documents of `directories`, sorted by name. A directory that cannot be read is skipped.
std::vector<DocumentFile> ListDocuments(const std::vector<std::string>& directories);

}  // namespace vc::cli
