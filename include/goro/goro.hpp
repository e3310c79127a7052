// goro/goro.hpp — everything goro offers, in one include.
#pragma once

#include <goro/chan.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
