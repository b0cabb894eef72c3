// doctest's main for suites that run as several MPI processes: every rank
// runs every test case (each case makes the same collective calls on every
// rank), rank 0 reports in full and the others report only failures. mpiexec
// fails the job if any rank returns nonzero.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <tapegrad/distributed.h>

int main(int argc, char** argv) {
    tg::dist::Session session(argc, argv);
    doctest::Context context(argc, argv);
    if (tg::dist::rank() != 0) context.setOption("minimal", true);
    return context.run();
}
