#pragma once

// Data-parallel training over MPI, in one include (link tapegrad_distributed).
#include <tapegrad/distributed/checkpoint.h>
#include <tapegrad/distributed/collectives.h>
#include <tapegrad/distributed/data_parallel.h>
#include <tapegrad/distributed/sampler.h>
#include <tapegrad/distributed/session.h>
