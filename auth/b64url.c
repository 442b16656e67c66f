/* SPDX-License-Identifier: MIT
 * b64url.c - see b64url.h. A lookup table maps each character to its six
 * bits or to "invalid"; groups of four characters become three bytes. */
#include "auth/b64url.h"

#include <stdint.h>

/* 0xFF: not in the base64url alphabet. */
static const uint8_t b64_value[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,
    ['H'] = 7,  ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13,
    ['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20,
    ['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27,
    ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34,
    ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41,
    ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48,
    ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['-'] = 62,
    ['_'] = 63,
};

/* The table above leaves every other entry 0, which is also 'A's value:
 * this says which characters are really in the alphabet. */
static bool
is_b64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

bool
b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t n_out = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (len % 4 == 1 || n_out > cap)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_b64url(p[i]))
            return false;
        acc = (acc << 6) | b64_value[p[i]];
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits (2 or 4) must be zero: one encoding per byte string. */
    if (acc != 0)
        return false;
    *out_len = o;
    return true;
}
