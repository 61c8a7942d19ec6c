package org.sparseft.jobs.spec;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.PropertyAccessor;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Binds settings (key to value, keys in kebab case as users write them) to a job specification through its
 * builder, the one path by which the command line, recipes and the Java API all make specs. A spec class names its
 * builder with {@code @JsonDeserialize(builder = ...)}; the builder's fields hold the defaults (declared once, there)
 * and its methods, named after the keys, record which settings were given.
 *
 * <p>Mistakes come out as {@link InvalidSettingException} naming the key: an unknown key, a value of the wrong type,
 * a name that is not one of an enumeration's (all named, lower case).
 */
public final class SpecBinding {
    private SpecBinding() {
    }

    /** The mapper of specs: kebab-case keys, strings coerced to numbers and booleans as YAML and flags give them. */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .visibility(PropertyAccessor.GETTER, JsonAutoDetect.Visibility.NONE)
            .visibility(PropertyAccessor.IS_GETTER, JsonAutoDetect.Visibility.NONE)
            .addModule(new SimpleModule().setDeserializerModifier(new NamedEnums()))
            .build();

    /**
     * A spec of {@code type} from {@code settings}; keys not given keep the builder's defaults.
     *
     * @throws InvalidSettingException naming the key, for unknown keys and values of the wrong type or out of range
     */
    public static <S> S bind(ObjectNode settings, Class<S> type) {
        try {
            return MAPPER.treeToValue(settings, type);
        } catch (UnrecognizedPropertyException e) {
            Set<String> known = new TreeSet<>();
            e.getKnownPropertyIds().forEach(k -> known.add(k.toString()));
            throw new UnknownSettingException(e.getPropertyName(), new ArrayList<>(known));
        } catch (IOException e) {
            BadInputException inside = badInput(e);
            if (inside != null) {
                throw inside;
            }
            throw new InvalidSettingException("{" + key(e) + "}: " + problem(e));
        }
    }

    /** The defaults of a builder as settings (key to value; enum names lower case, no entry for no default). */
    public static ObjectNode defaults(Object freshBuilder) {
        ObjectNode all = MAPPER.copy().setVisibility(PropertyAccessor.FIELD, JsonAutoDetect.Visibility.ANY)
                .valueToTree(freshBuilder);
        ObjectNode defaults = MAPPER.createObjectNode();
        all.fields().forEachRemaining(e -> {
            JsonNode v = e.getValue();
            if (!v.isNull()) {
                defaults.set(e.getKey(), v.isTextual() ? MAPPER.getNodeFactory().textNode(lowerIfName(v.asText())) : v);
            }
        });
        return defaults;
    }

    /** Settings as a mutable node, for callers that assemble them (the command line, recipes). */
    public static ObjectNode settings() {
        return MAPPER.createObjectNode();
    }

    /** A value (a number, string, boolean, list, map) as a settings value. */
    public static JsonNode value(Object v) {
        return v instanceof Enum<?> e ? MAPPER.getNodeFactory().textNode(name(e)) : MAPPER.valueToTree(v);
    }

    /** An enumeration constant as users write it: lower case, words joined by dashes ({@code compressed-tensors}). */
    public static String name(Enum<?> constant) {
        return settingName(constant.name());
    }

    private static String settingName(String constantName) {
        return constantName.toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static String lowerIfName(String s) {
        return s.matches("[A-Z][A-Z0-9_]*") ? settingName(s) : s;
    }

    private static BadInputException badInput(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof BadInputException b) {
                return b;
            }
        }
        return null;
    }

    private static String key(JsonMappingException e) {
        List<String> path = new ArrayList<>();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                path.add(r.getFieldName());
            }
        }
        return path.isEmpty() ? "settings" : path.get(path.size() - 1);
    }

    private static String key(IOException e) {
        return e instanceof JsonMappingException m ? key(m) : "settings";
    }

    /** "'half' is not a double", "expected a single value, found a list". */
    private static String problem(IOException e) {
        if (e instanceof InvalidFormatException f) {
            return "'" + f.getValue() + "' is not " + typeName(f.getTargetType());
        }
        if (e instanceof MismatchedInputException m && m.getTargetType() != null) {
            return "expected " + typeName(m.getTargetType());
        }
        return e.getMessage();
    }

    private static String typeName(Class<?> type) {
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "an integer";
        }
        if (type == double.class || type == Double.class || type == float.class || type == Float.class) {
            return "a double";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        return type == String.class ? "a single value" : "a " + type.getSimpleName();
    }

    /** Enumerations by their {@linkplain #name names}; another value names the key and every accepted name. */
    private static final class NamedEnums extends BeanDeserializerModifier {
        @Override
        public JsonDeserializer<?> modifyEnumDeserializer(DeserializationConfig config, JavaType type,
                                                          BeanDescription description, JsonDeserializer<?> standard) {
            Class<?> raw = type.getRawClass();
            return new JsonDeserializer<Enum<?>>() {
                @Override
                public Enum<?> deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
                    String text = p.getValueAsString();
                    for (Object constant : raw.getEnumConstants()) {
                        Enum<?> e = (Enum<?>) constant;
                        if (name(e).equalsIgnoreCase(text == null ? "" : text.trim())) {
                            return e;
                        }
                    }
                    throw InvalidSettingException.of(p.currentName(), text, "expected " + names(raw));
                }
            };
        }

        /** "grad or average", "magnitude, wanda, dsnot or sparsegpt". */
        static String names(Class<?> enumType) {
            List<String> names = Arrays.stream(enumType.getEnumConstants())
                    .map(c -> name((Enum<?>) c)).collect(Collectors.toList());
            return names.size() == 1 ? names.get(0) : String.join(", ", names.subList(0, names.size() - 1)) + " or "
                    + names.get(names.size() - 1);
        }
    }
}
