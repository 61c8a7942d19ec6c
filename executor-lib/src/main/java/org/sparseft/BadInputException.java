package org.sparseft;

/**
 * Input or configuration that sparseft cannot accept: a malformed file, a missing field, an option out of range.
 * The message names the file or field and what was expected; the command line maps it to exit code 2.
 */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "where: what was wrong" with a uniform shape, so messages read alike across the code base. */
    public static BadInputException at(Object where, String problem) {
        return new BadInputException(where + ": " + problem);
    }
}
