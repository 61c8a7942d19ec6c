package org.sparseft;

/**
 * A failure while running on valid input (I/O refused, non-finite loss, a lost executor after retries).
 * The command line maps it to exit code 3.
 */
public class RuntimeFailure extends RuntimeException {
    public RuntimeFailure(String message) {
        super(message);
    }

    public RuntimeFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
