package org.sparseft;

import java.util.function.UnaryOperator;

/**
 * A failure while running on valid input (I/O refused, non-finite loss, a lost executor after retries).
 * The command line maps it to exit code 3. Advice that names a setting ("raise the damping") is written as a
 * template ({@link #advising}), so that the command line names the flag and a recipe its key, as
 * {@link InvalidSettingException} does.
 */
public class RuntimeFailure extends RuntimeException {
    private final String template;

    public RuntimeFailure(String message) {
        super(message);
        this.template = SettingNames.literal(message);
    }

    public RuntimeFailure(String message, Throwable cause) {
        super(message, cause);
        this.template = SettingNames.literal(message);
    }

    private RuntimeFailure(Throwable cause, String template) {
        super(SettingNames.render(template, UnaryOperator.identity()), cause);
        this.template = template;
    }

    /**
     * A failure whose message names settings in braces, e.g. {@code "... raise {sparsegpt-percdamp}"}; values put
     * into it go through {@link InvalidSettingException#literal}.
     */
    public static RuntimeFailure advising(String template, Throwable cause) {
        return new RuntimeFailure(cause, template);
    }

    /** The message with each setting named by {@code nameOf} (e.g. {@code k -> "--" + k}). */
    public String render(UnaryOperator<String> nameOf) {
        return SettingNames.render(template, nameOf);
    }
}
