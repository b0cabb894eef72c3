#pragma once

// Loss curves as CSV files with a header row, "step,loss", one row per step:
// the form the examples log and the form PyTorch's reference curves come in.

#include <cstddef>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace examples {

// Losses with 9 significant digits, enough to round-trip a float32 exactly.
inline void write_loss_csv(const std::string& path, const std::vector<double>& losses) {
    std::ofstream out(path);
    out << "step,loss\n";
    for (std::size_t step = 0; step < losses.size(); ++step)
        out << fmt::format("{},{:.9g}\n", step, losses[step]);
    out.close();
    if (!out) throw std::runtime_error(fmt::format("cannot write '{}'", path));
}

// The "loss" column of a CSV file with a header row, in file order.
inline std::vector<double> read_loss_csv(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read '{}'", path));
    auto split = [](const std::string& line) {
        std::vector<std::string> cells;
        std::stringstream cells_in(line);
        for (std::string cell; std::getline(cells_in, cell, ',');) {
            if (!cell.empty() && cell.back() == '\r') cell.pop_back();  // CRLF files
            cells.push_back(cell);
        }
        return cells;
    };
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header = split(line);
    std::size_t column = 0;
    while (column < header.size() && header[column] != "loss") ++column;
    if (column == header.size())
        throw std::runtime_error(fmt::format("'{}' has no \"loss\" column in its header", path));
    std::vector<double> losses;
    for (int row = 2; std::getline(in, line); ++row) {
        if (line.empty() || line == "\r") continue;
        std::vector<std::string> cells = split(line);
        try {
            if (column >= cells.size()) throw std::invalid_argument("missing");
            losses.push_back(std::stod(cells[column]));
        } catch (const std::logic_error&) {
            throw std::runtime_error(
                fmt::format("'{}' line {}: no number in the \"loss\" column", path, row));
        }
    }
    return losses;
}

}  // namespace examples
