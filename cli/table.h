// Table: the aligned, space-separated columns `gpupool servers` and `gpupool top` print for people
// (like kubectl get). Columns are as wide as their widest cell; the last column is not padded.
//
// Thread-safety: a value; not shared between threads.
#pragma once

#include <string>
#include <vector>

namespace gpupool::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  // Missing cells print empty; extra cells are an error of the caller and are dropped.
  void AddRow(std::vector<std::string> cells);
  std::string ToString() const;
  std::size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace gpupool::cli
