#ifndef VMRESERVE_CHIREDIS_SHIM_H
#define VMRESERVE_CHIREDIS_SHIM_H
// libhiredis 0.14 (Debian libhiredis-dev): the RESP reader and command formatter.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
