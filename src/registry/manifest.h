/*
 * manifest.h -- parse and validate a manifest pushed to the registry.
 *
 * Four media types are accepted (OCI image manifest and index, Docker
 * schema 2 manifest and manifest list). The kind comes from Content-Type,
 * else from the body's mediaType, else from its shape; when both are
 * given they must agree. Validation is the schema's: schemaVersion 2,
 * descriptors with a mediaType, a digest coffer understands and a size >= 0.
 *
 * What the registry needs from a manifest comes out as plain data: its
 * references (config and layers: blobs; index children: manifests; each
 * must exist in the repository unless it is a foreign layer with urls),
 * its subject (for the referrers API and OCI-Subject), its artifact type
 * (artifactType, else config.mediaType of an image manifest) and its
 * annotations (compact JSON, for referrers descriptors).
 */
#ifndef CF_REGISTRY_MANIFEST_H
#define CF_REGISTRY_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "registry/oci.h"

#define MANIFEST_MAX_SIZE (4u * 1024 * 1024)
#define MANIFEST_MAX_REFS 10000
#define MANIFEST_MEDIA_TYPE_MAX 255

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

typedef enum {
    MANIFEST_OCI_MANIFEST = 1,
    MANIFEST_OCI_INDEX,
    MANIFEST_DOCKER_MANIFEST,
    MANIFEST_DOCKER_LIST
} manifest_kind;

typedef struct manifest_ref {
    oci_digest digest;
    int64_t size;
    int is_manifest; /* an index child, else a blob */
    int foreign;     /* has urls: need not exist locally */
} manifest_ref;

typedef struct manifest {
    manifest_kind kind;
    const char *media_type;                          /* static string of the kind */
    char artifact_type[MANIFEST_MEDIA_TYPE_MAX + 1]; /* "" when none */
    int has_subject;
    oci_digest subject;
    size_t nrefs;
    manifest_ref *refs;
    char *annotations; /* compact JSON object, or NULL */
} manifest;

/* content_type may be NULL. On failure the manifest is left empty
 * (manifest_free is still safe). CF_EINVAL for anything invalid. */
cf_code manifest_parse(manifest *out, const void *data, size_t len, const char *content_type,
                       cf_err *e);
void manifest_free(manifest *m);
/* In an index (any bytes; parsed here), the first child manifest for the
 * platform os/arch. CF_ENOTFOUND when none; CF_EINVAL when not an index. */
cf_code manifest_index_pick(oci_digest *out, const void *data, size_t len, const char *os,
                            const char *arch, cf_err *e);
/* The kind for a media type, or 0 when coffer does not store that type. */
manifest_kind manifest_kind_of(const char *media_type, size_t len);
int manifest_is_index(manifest_kind k);

#endif
