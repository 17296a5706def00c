/* Generated with the openssl CLI and node crypto (independent of coffer): test vectors for jwk,
 * keyops, jwt. */
#ifndef VCRYPTO_VECTORS_H
#define VCRYPTO_VECTORS_H
static const char VEC_RSA_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC4EgNNgyQLA1lF\n"
    "LdtJqcx5Gey1H3tDS6Kn9rUWLlRCxgOsDBKobpYwtD23+SMJ40C82ixhZacLWakk\n"
    "3x+aXqM3p/yre7utGJODVXCO6oQSChWg3qDGC/ScS6TACfJlCqghQfKwDavP1ITK\n"
    "kwfDvr0EzRyMqhXKG9B6NHeFZ7S581jz+EiB8FjDDKVVV1LnfYqdgFPzWzTqK3vE\n"
    "taUnAgiaon0/OHSPD7SZJ83xZ6hW5rDHhuQpxNWqeDR5LmULGbovwpzYIMwmfSme\n"
    "qm5+uXoPBAaqGDZoEEemolHYjY56i3I2fc/XfV3uYRbeK5KgwH7SesPO/8H608Fd\n"
    "iNvsd1KzAgMBAAECggEAUVZIVlaWNTWgG2Ulitn4zCSMCAcmwThpYj4ui+QiALWe\n"
    "Rsa48euX+2KSCTsSZBqi7zCbPtib5XSTvQLJZL3f8saM7LvK1TTQbk7xY322qYAC\n"
    "SalGsuzyhKQaY2+hyEtauwN4uZn462f128v3uOQOg1IdhPzdjwcWawHHNNB8OFRT\n"
    "frHeSJa1PJilNm1q0GDTPAUCUacRxY4k9LunniHW6X/KAfc2zBSz+XJfdWxxtKJc\n"
    "GDfmEvidxvh++BS1dcUH4r95M+HmDebPsEmCF6Rs9TK/VPjY84aeUtCEHFwGP3OP\n"
    "jaTgXZCHhJjeiHG2C020fHTsLj+6uZSu9wgJ2hZxFQKBgQDdY5rWWLEIEntzmAe6\n"
    "zBmZKmRv/jqIk8XqCX15+kD0AVdAqDTmscloKdOv/OHEbU9zGjYpV+D+7IimKFKV\n"
    "79IR0RVVqOBjg0fbOlbgwqx/kBAj3pXJmaHq80wm9f3z3uDKl1xP+u1yj+RKlBvY\n"
    "nhSwWUJh9MiZ+dix2vRt3XMiRQKBgQDU2NhG6GAk0aEqUnhpES3WXY842JEZoP5G\n"
    "Sbs8NzZVOp3Pd7AIO6CrMFPmuZ51sOrbFse8GTDyhmsoCGIEOLMEbSmPIS+17mW/\n"
    "jQ38BS3Km+EppSNesu8SpiYZ3oY6bgldokzzuiGvSrNHAKFguhxantAXiJjfg36I\n"
    "NWcarMVslwKBgQDbRxzF0XMHG8dK5vpA+ocgPezdQGGZhUQyWtP9TPGovOs/D1vW\n"
    "Y6GpmkQhu8eiVuKqjvu2V2RzGrT+XlHuUGsxWnZXMb2O0ykI6u/CDw/sCTTzUjPq\n"
    "SlEl9XUn4d52/fqIrwKv9UnafssPU0OBepHjWYV2oI1QdTc8cjJH3196QQKBgQC1\n"
    "J9Z0C2WBENZt8gE/03pC4CB9Dn345Thl1G1Co+9ffONB6Clv6GgoK5rNXiCLJMfP\n"
    "LsVSx9IMKPHdAb2CwEtFMi/T/TfhTYVWEhTb8gB2WFO8oSvIdtzZ74WwMN/nrS3V\n"
    "fsSmED6JNjf974Bqlhx52H9d+Em8uusfvOwDHRdvAwKBgCGnk/IDURYUDx1x0xiL\n"
    "F2XwxlyykRNpuLkz0sCV9tp09ArLbMVFYI/xjnRCqZBrQ4BVszR8ImswCrnQX4rk\n"
    "pU1PQApaNY3ce4teK68RjZK1FAknnGlo5BzLCcxBADyuQQYK3WEad/H3huQmyi3+\n"
    "/ycGyx2LZpRlfkP8NJoArAe6\n"
    "-----END PRIVATE KEY-----\n";
static const char VEC_EC256_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgW1afqPmpByKyAlKD\n"
    "hL+gaPqNVDUMxKnZaM+UJb/oO8KhRANCAAQ71E2qCPEmP99XSBzszV67cW80jT4i\n"
    "zH2xMZ7rlvNiItbzhTMVhfD1UJVupie9tZtyvomHTZGd58zJG4OR+SV/\n"
    "-----END PRIVATE KEY-----\n";
static const char VEC_RSA_JWK_PRIV[] =
    "{\"kty\":\"RSA\",\"n\":\"uBIDTYMkCwNZRS3bSanMeRnstR97Q0uip_a1Fi5UQsYDrAwSqG6WMLQ9t_"
    "kjCeNAvNosYWWnC1mpJN8fml6jN6f8q3u7rRiTg1VwjuqEEgoVoN6gxgv0nEukwAnyZQqoIUHysA2rz9SEypMHw769BM0c"
    "jKoVyhvQejR3hWe0ufNY8_hIgfBYwwylVVdS532KnYBT81s06it7xLWlJwIImqJ9Pzh0jw-"
    "0mSfN8WeoVuawx4bkKcTVqng0eS5lCxm6L8Kc2CDMJn0pnqpufrl6DwQGqhg2aBBHpqJR2I2OeotyNn3P131d7mEW3iuSo"
    "MB-0nrDzv_B-tPBXYjb7HdSsw\",\"e\":\"AQAB\",\"d\":\"UVZIVlaWNTWgG2Ulitn4zCSMCAcmwThpYj4ui-"
    "QiALWeRsa48euX-2KSCTsSZBqi7zCbPtib5XSTvQLJZL3f8saM7LvK1TTQbk7xY322qYACSalGsuzyhKQaY2-"
    "hyEtauwN4uZn462f128v3uOQOg1IdhPzdjwcWawHHNNB8OFRTfrHeSJa1PJilNm1q0GDTPAUCUacRxY4k9LunniHW6X_"
    "KAfc2zBSz-XJfdWxxtKJcGDfmEvidxvh--BS1dcUH4r95M-HmDebPsEmCF6Rs9TK_"
    "VPjY84aeUtCEHFwGP3OPjaTgXZCHhJjeiHG2C020fHTsLj-6uZSu9wgJ2hZxFQ\",\"p\":"
    "\"3WOa1lixCBJ7c5gHuswZmSpkb_46iJPF6gl9efpA9AFXQKg05rHJaCnTr_zhxG1Pcxo2KVfg_uyIpihSle_"
    "SEdEVVajgY4NH2zpW4MKsf5AQI96VyZmh6vNMJvX9897gypdcT_rtco_kSpQb2J4UsFlCYfTImfnYsdr0bd1zIkU\","
    "\"q\":\"1NjYRuhgJNGhKlJ4aREt1l2PONiRGaD-"
    "Rkm7PDc2VTqdz3ewCDugqzBT5rmedbDq2xbHvBkw8oZrKAhiBDizBG0pjyEvte5lv40N_"
    "AUtypvhKaUjXrLvEqYmGd6GOm4JXaJM87ohr0qzRwChYLocWp7QF4iY34N-iDVnGqzFbJc\",\"dp\":"
    "\"20ccxdFzBxvHSub6QPqHID3s3UBhmYVEMlrT_UzxqLzrPw9b1mOhqZpEIbvHolbiqo77tldkcxq0_"
    "l5R7lBrMVp2VzG9jtMpCOrvwg8P7Ak081Iz6kpRJfV1J-Hedv36iK8Cr_"
    "VJ2n7LD1NDgXqR41mFdqCNUHU3PHIyR99fekE\",\"dq\":\"tSfWdAtlgRDWbfIBP9N6QuAgfQ59-"
    "OU4ZdRtQqPvX3zjQegpb-hoKCuazV4giyTHzy7FUsfSDCjx3QG9gsBLRTIv0_034U2FVhIU2_IAdlhTvKEryHbc2e-"
    "FsDDf560t1X7EphA-iTY3_e-AapYcedh_XfhJvLrrH7zsAx0XbwM\",\"qi\":"
    "\"IaeT8gNRFhQPHXHTGIsXZfDGXLKRE2m4uTPSwJX22nT0CstsxUVgj_"
    "GOdEKpkGtDgFWzNHwiazAKudBfiuSlTU9AClo1jdx7i14rrxGNkrUUCSecaWjkHMsJzEEAPK5BBgrdYRp38feG5CbKLf7_"
    "JwbLHYtmlGV-Q_w0mgCsB7o\"}";
static const char VEC_RSA_JWK_PUB[] =
    "{\"kty\":\"RSA\",\"n\":\"uBIDTYMkCwNZRS3bSanMeRnstR97Q0uip_a1Fi5UQsYDrAwSqG6WMLQ9t_"
    "kjCeNAvNosYWWnC1mpJN8fml6jN6f8q3u7rRiTg1VwjuqEEgoVoN6gxgv0nEukwAnyZQqoIUHysA2rz9SEypMHw769BM0c"
    "jKoVyhvQejR3hWe0ufNY8_hIgfBYwwylVVdS532KnYBT81s06it7xLWlJwIImqJ9Pzh0jw-"
    "0mSfN8WeoVuawx4bkKcTVqng0eS5lCxm6L8Kc2CDMJn0pnqpufrl6DwQGqhg2aBBHpqJR2I2OeotyNn3P131d7mEW3iuSo"
    "MB-0nrDzv_B-tPBXYjb7HdSsw\",\"e\":\"AQAB\"}";
static const char VEC_EC256_JWK_PRIV[] =
    "{\"kty\":\"EC\",\"x\":\"O9RNqgjxJj_fV0gc7M1eu3FvNI0-Isx9sTGe65bzYiI\",\"y\":"
    "\"1vOFMxWF8PVQlW6mJ721m3K-iYdNkZ3nzMkbg5H5JX8\",\"crv\":\"P-256\",\"d\":\"W1afqPmpByKyAlKDhL-"
    "gaPqNVDUMxKnZaM-UJb_oO8I\"}";
static const char VEC_EC256_JWK_PUB[] =
    "{\"kty\":\"EC\",\"x\":\"O9RNqgjxJj_fV0gc7M1eu3FvNI0-Isx9sTGe65bzYiI\",\"y\":"
    "\"1vOFMxWF8PVQlW6mJ721m3K-iYdNkZ3nzMkbg5H5JX8\",\"crv\":\"P-256\"}";
static const char VEC_EC384_JWK_PRIV[] =
    "{\"kty\":\"EC\",\"x\":\"Y99ty3eltV4gl08PT_w6nRWFt1kC0ISShir84cMVH7a6MZk4BulNykigZoqGEPtt\","
    "\"y\":\"lk31IRKRxSgP1Q9Wd6IoeACc-zah41smMg0hyI7pnF9ibIgwlNjef5XKSlfvxya5\",\"crv\":\"P-384\","
    "\"d\":\"f021qRyGBkoxcFvlUkpjugwGkknycyycRp89K9XWUDDXzNeBEj81IK03txOQ-sV4\"}";
static const char VEC_EC384_JWK_PUB[] =
    "{\"kty\":\"EC\",\"x\":\"Y99ty3eltV4gl08PT_w6nRWFt1kC0ISShir84cMVH7a6MZk4BulNykigZoqGEPtt\","
    "\"y\":\"lk31IRKRxSgP1Q9Wd6IoeACc-zah41smMg0hyI7pnF9ibIgwlNjef5XKSlfvxya5\",\"crv\":\"P-384\"}";
static const char VEC_MSG[] = "coffer keyops vector";
static const char VEC_D256_HEX[] =
    "a812779efe6ad8e1ad384b76acf40ab92f945e13e5827d2e9c362bb0e82de181";
static const char VEC_D384_HEX[] = "dfe11e40b0d4d4900f669307a783bbcf37c6ce8cf04932233b43814e0d5ea38"
                                   "8d576775a52873f5941c4efeff4b17adf";
static const char VEC_RS256_HEX[] =
    "4d2ded072a31b5380c9d35383710bf419f74ad0912aab3da468078da131e783e066fc97627efcdd24d76a6d848a9a8"
    "d25e5078c8f17498e62e76481a704b0cc9289fe131302672dac96c5d6038358e2f1f343f6eba71218701a0202424e4"
    "2255869c923c13a6791324cf9b3d1f9fb014db46b455426974958fb2f7fecf19c3c9bd2df4f9bad41cb81aae3c17cc"
    "1f576a1cca2fccfe42b587bddf836a26e56fcdb01c09269e4e5a3b7dcf7f329c04bbac9a164487ad52df9ca9546cb0"
    "eae58d952ce578805459d34a49db1ecb79c73af047a4546072aff0b6397b9075455f305320a7aca2fce7aeb637310e"
    "b2b28124b197d85fc9baff56cdb92fbcf65e83799b";
static const char VEC_PS256_HEX[] =
    "759588f0940862d953fb6050dcd93a4cd42cf0811a37dbc3bb3723a2d58bb8eec15f0a7b9759b4a14262323762c975"
    "b1f99f2551c0d1eeab692c2734dd2543e20a174f3de3be0532171444acfb5636743ebc5d797e175f90dd9f1cbe3660"
    "c6b719cbe72a61e8edf53c19a2203b40bb89aa6e4a30b92a615ed6eb2728ecc6431e8275a80250a85c13a6971c89db"
    "1b0b56d8c6f2ad74a46ba042c56bfca3a6bbade465483115e4438a59648e3a64ac207de6078e878f79705771633a51"
    "e2bdc0945d10afe876bd4a0571ba99d35aecbf947e63f7af5b61a21dd99962739c138ab934d0e95bea26a770096967"
    "3502a7976a755dd363e2c565621b012661a554af5a";
static const char VEC_ES256_DER_HEX[] =
    "304502200213b461edd8f87b44ab39b300edebcbfc399455a5b22cf81f99b17cab5089eb0221009203525ca9b5c1ea"
    "7c1876758d1ecc0520422844d69d9f397ec923bf332714f3";
static const char VEC_OAEP256_HEX[] =
    "394a0226cf7ed61e4d502d82524ef11934c4d86ef18c7c0cafbcce39857d29161d02fb72259adac40842c5f83f5c3d"
    "575577ce6ee206fd1b8eec113f7782217124d398e3fec3d0879421ee2b666f30743d50c1cc657f4a8d40ba72670a9c"
    "0656905a1455ad766f8e777af9a8310f1fb65507ea832e1ad9f6c31394de610b929bdff2a3781888dfcf862dddd8df"
    "6c64ea8a2b42b96cc7d53cc1f3e3afbb63662bb0e873acf01aee4363095b4e10f8116aefb34585111607ad4b39ad44"
    "080e88571eed2d6de07e3b4ea67e466903fc99b0c44283492ec6eec085ab6089c8873ffbfa59e794716f0ec77f6e83"
    "7cc9b08ba5bfbd19e3202b4b0f3dea853d7a172a70";
static const char VEC_OAEP1_HEX[] =
    "3f1ab777e50d51888c49180e23e5ac1e8f02750b914b6749e5eb80b2b60c9c607c98c64b29f7d575021939e21cf065"
    "26a8ac91455684ac7ab4c5fa4bdac4dbc2d5edabbbf50b0b87e5a5df1da010c446c116d8fb3ab0ef4a29a4af4f3457"
    "26b173ea8526506c5da009496e30e622251b55f86f144c6347ea37dbee2e490e91db047b883a65e211b8d3807e1c02"
    "64000d56ae75065efca7b5f9ba3b39a686d328da9ebc85a391ee7b1b968a8bcb1fe0247000f9d10b0b429df92a91f7"
    "931c5d44a9878e8c9dbd5fee781f2a02ca657eabc69f53851b75bef2fcde6a86bca3200020bdd8749f34209f98d2f8"
    "5ad6f72fee240297d21d3a9e0c6cb6b4469e9b4173";
static const char VEC_PKCS1_HEX[] =
    "ac5df0d0717e6a7c4e5c08706e115420d206e25b25c2ce83075d0d09f6b596e15aeadbb7b8c6be741e925f89894dc8"
    "035d31892fe83b59e296956b72cf237919ae878d6b1c1ccd8ce7b8a9e5db40d9467c3066ecaa757da0967faa0f2029"
    "153b146db5f07764582ae3cc76cc090fb7c01bbeb3c6a356903471d9f297664bcf49a58b410816b50e69dd15ac8b29"
    "112884ce69a58ed0c629f1b197407d3707c5999a196110ec81861756d3280a61be2fe7e8c934e4cfda4b69a11f3b0a"
    "b22d89147056a9997fd0007238d559f598f467866ac03e118aa03b700062a371b6a0d1890c88dedafd7bae0271bc19"
    "5e49fc8dce368472c62620dfa81f713d2ab3f64d56";
static const char VEC_SECRET[] = "0123456789abcdef0123456789abcdef";
#endif
