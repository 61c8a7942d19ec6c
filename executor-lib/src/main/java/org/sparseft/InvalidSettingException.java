package org.sparseft;

import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A setting outside what sparseft accepts. The message is a template naming each setting it is about in braces,
 * e.g. {@code "{batch} 3 is not a multiple of {partitions} 2"}, so that each caller can name the setting the way
 * its user wrote it: the command line as {@code --batch}, a recipe as {@code finetune.batch}, the Java API as
 * {@code batch}. Setting names are the keys of the job specifications (kebab case).
 *
 * <p>Values put into a template (paths, user text, regular expressions such as {@code a{2}}) go through
 * {@link #literal}, which doubles each opening brace, so that they render as written and never as a
 * setting; {@link #of} does so for its value.
 */
public class InvalidSettingException extends BadInputException {
    private final String template;

    /** A template such as {@code "{seqlen} 1: expected at least 2"}. */
    public InvalidSettingException(String template) {
        super(SettingNames.render(template, UnaryOperator.identity()));
        this.template = template;
    }

    /** The usual shape: "{setting} value: rule"; the value is shown as written ({@link #literal}). */
    public static InvalidSettingException of(String setting, Object value, String rule) {
        return new InvalidSettingException("{" + setting + "} " + literal(value) + ": " + rule);
    }

    /** {@code value} as template text that renders as written, whatever braces it holds. */
    public static String literal(Object value) {
        return SettingNames.literal(value);
    }

    /** The template, e.g. to put this message inside another one's. */
    public String template() {
        return template;
    }

    /** The settings the message is about, in order of appearance. */
    public List<String> settings() {
        return SettingNames.settings(template);
    }

    /** The message with each setting named by {@code nameOf} (e.g. {@code k -> "--" + k}). */
    public String render(UnaryOperator<String> nameOf) {
        return SettingNames.render(template, nameOf);
    }
}
