#ifndef CF_BASE_VERSION_H
#define CF_BASE_VERSION_H
#define COFFER_VERSION "0.1.0"
#endif
