"""The change envelope and everything that moves it: stream decoding, publishing, claim checks, reading."""
