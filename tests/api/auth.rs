//! Sign-in, refresh rotation and reuse detection, sign-out, deactivation, throttling, and the
//! tokens that must be refused.
