// goro/goro.hpp — everything goro offers, in one include.
#pragma once

#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/net.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/sync.hpp>
#include <goro/time.hpp>
