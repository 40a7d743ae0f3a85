<?php
/**
 * trackside's PrestaShop module: the pure functions (no PrestaShop class is used here), so a
 * theme, another platform or a test can render the same snippets:
 *
 *   require '/path/to/trackside/lib/trackside_functions.php';
 *   echo trackside_header_snippet($config, $page);
 *   echo trackside_confirmation_snippet($config, $order);
 *
 * $config: 'gateway' (https://track.shop.example, or a same-origin path such as /tr),
 * 'signing_key' (the gateway's TRACKSIDE_SIGNING_KEY: it signs, it is never printed),
 * optional 'consent_wait_ms' (default 500). The HMAC formats are the gateway's
 * (docs/browser-tag.md "Join tokens" and "Signing purchases").
 *
 * PHP 7.4 to 8.3: no union types, no match, no named arguments.
 */

if (!defined('TRACKSIDE_FUNCTIONS')) {
    define('TRACKSIDE_FUNCTIONS', 1);

    /** Lower-case hex HMAC-SHA256 of "{kind}:{id}" (cart:8841, customer:311). */
    function trackside_join_token($signingKey, $kind, $id)
    {
        return hash_hmac('sha256', $kind . ':' . $id, (string) $signingKey);
    }

    /**
     * The text the gateway verifies: "reference|value|currency", the value with two decimals
     * and a dot. '%.2F' rounds the exact binary value like Python's f"{value:.2f}" (1.005 →
     * "1.00"); number_format would write "1.01" and the gateway would refuse the signature.
     */
    function trackside_signature_message($reference, $value, $currency)
    {
        return $reference . '|' . sprintf('%.2F', (float) $value) . '|' . strtoupper($currency);
    }

    /** Lower-case hex HMAC-SHA256 of trackside_signature_message(), key TRACKSIDE_SIGNING_KEY. */
    function trackside_sign_purchase($signingKey, $reference, $value, $currency)
    {
        return hash_hmac('sha256', trackside_signature_message($reference, $value, $currency),
            (string) $signingKey);
    }

    /** JSON safe inside a <script> element (no </script>, no quotes or & left raw). */
    function trackside_js($value)
    {
        $json = json_encode($value, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT
            | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR);
        return $json === false ? 'null' : $json;
    }

    /** "https://track.shop.example/" or "/tr" → the folder t.js and /collect live in. */
    function trackside_gateway_base($gateway)
    {
        return rtrim(trim((string) $gateway), '/');
    }

    /**
     * Which cookie-banner categories grant which Consent Mode signals: Cookiebot's
     * consent.marketing / consent.statistics (https://www.cookiebot.com/en/developer/) and
     * OneTrust's default groups C0002 (performance) / C0004 (targeting)
     * (https://developer.onetrust.com/onetrust/docs/javascript-events-guide).
     */
    function trackside_consent_mapping()
    {
        $ads = array('ad_storage', 'ad_user_data', 'ad_personalization');
        return array(
            'cookiebot' => array('marketing' => $ads, 'statistics' => array('analytics_storage')),
            'onetrust' => array('C0004' => $ads, 'C0002' => array('analytics_storage')),
        );
    }

    /**
     * The four signals from one banner's categories, as consent.js computes them:
     * trackside_consent_from_categories('onetrust', array('C0001', 'C0002')).
     */
    function trackside_consent_from_categories($banner, array $grantedCategories)
    {
        $mapping = trackside_consent_mapping();
        $state = array();
        if (!isset($mapping[$banner])) {
            return $state;
        }
        foreach ($mapping[$banner] as $category => $signals) {
            foreach ($signals as $signal) {
                if (isset($state[$signal]) && $state[$signal] === 'denied') {
                    continue;
                }
                $state[$signal] = in_array($category, $grantedCategories, true) ? 'granted' : 'denied';
            }
        }
        return $state;
    }

    /** The ids and tokens a page's events carry so the gateway can join them to the order. */
    function trackside_join_params($signingKey, $cartId, $customerId)
    {
        $params = array();
        if ((string) $signingKey === '') {
            return $params;  // an id without a token is refused for joins anyway
        }
        if ((int) $cartId > 0) {
            $params['cart_id'] = (string) (int) $cartId;
            $params['cart_token'] = trackside_join_token($signingKey, 'cart', (int) $cartId);
        }
        if ((int) $customerId > 0) {
            $params['customer_id'] = (string) (int) $customerId;
            $params['customer_token'] = trackside_join_token($signingKey, 'customer', (int) $customerId);
        }
        return $params;
    }

    /**
     * Every page's <head>: the queue stub, the consent wiring (consent.js), a PageView with
     * the cart and customer join tokens, and t.js from the gateway.
     * $page: optional 'cart_id', 'customer_id' (0 or absent: a visitor without them).
     */
    function trackside_header_snippet(array $config, array $page = array())
    {
        $gateway = isset($config['gateway']) ? trim((string) $config['gateway']) : '';
        if ($gateway === '') {
            return '<!-- trackside: no gateway URL configured -->';
        }
        $base = trackside_gateway_base($gateway);
        $key = isset($config['signing_key']) ? $config['signing_key'] : '';
        $wait = isset($config['consent_wait_ms']) ? max(0, (int) $config['consent_wait_ms']) : 500;
        $params = trackside_join_params($key,
            isset($page['cart_id']) ? $page['cart_id'] : 0,
            isset($page['customer_id']) ? $page['customer_id'] : 0);
        $consentJs = (string) @file_get_contents(__DIR__ . '/../views/js/consent.js');
        $pageView = empty($params) ? '{}' : trackside_js($params);
        return "<script>\n"
            . "window.trackside = window.trackside || function () { (trackside.q = trackside.q || []).push(arguments); };\n"
            . 'window.TRACKSIDE_CONSENT_CONFIG = '
            . trackside_js(array('mapping' => trackside_consent_mapping(), 'wait' => $wait)) . ";\n"
            . $consentJs . "\n"
            . "tracksideWhenConsented(function () { trackside('track', 'PageView', " . $pageView . "); });\n"
            . "</script>\n"
            . '<script async src="' . htmlspecialchars($base . '/t.js', ENT_QUOTES, 'UTF-8') . '"></script>' . "\n";
    }

    /**
     * The confirmation page's signed purchase (after trackside_header_snippet() on the page).
     * $order: 'reference', 'value' (the checkout's tax-included total: every order of the
     * reference), 'currency', optional 'cart_id', 'customer_id', 'items' (id, name, price,
     * quantity).
     */
    function trackside_confirmation_snippet(array $config, array $order)
    {
        $reference = isset($order['reference']) ? trim((string) $order['reference']) : '';
        $currency = isset($order['currency']) ? strtoupper(trim((string) $order['currency'])) : '';
        if ($reference === '' || $currency === '' || !isset($order['value'])
            || !is_numeric($order['value']) || !is_finite((float) $order['value'])) {
            return '<!-- trackside: no order reference, value or currency -->';
        }
        $value = round((float) $order['value'], 2);
        $key = isset($config['signing_key']) ? (string) $config['signing_key'] : '';
        $purchase = array('reference' => $reference, 'value' => $value, 'currency' => $currency);
        if (!empty($order['items']) && is_array($order['items'])) {
            $purchase['items'] = array_values($order['items']);
        }
        $purchase = array_merge($purchase, trackside_join_params($key,
            isset($order['cart_id']) ? $order['cart_id'] : 0,
            isset($order['customer_id']) ? $order['customer_id'] : 0));
        if ($key !== '') {
            $purchase['signature'] = trackside_sign_purchase($key, $reference, $value, $currency);
        }
        return "<script>\n"
            . "window.trackside = window.trackside || function () { (trackside.q = trackside.q || []).push(arguments); };\n"
            . "(window.tracksideWhenConsented || function (f) { f(); })(function () { trackside('purchase', "
            . trackside_js($purchase) . "); });\n"
            . "</script>\n";
    }

    /**
     * The Purchase the module pushes to POST /v1/events: the same event id as the gateway's
     * database poller (prefix + reference: sources/prestashop/map.py), so whichever comes
     * second is a duplicate. An empty $prefix sends no event_id: the gateway then applies its
     * own TRACKSIDE_EVENT_ID_PREFIX to the reference, the poller's rule. $order: 'reference', 'value', 'currency', 'cart_id',
     * 'customer_id', optional 'email', 'phone', 'first_name', 'last_name', 'city', 'zip',
     * 'country', 'items', 'url', 'event_time'.
     */
    function trackside_push_payload($prefix, array $order)
    {
        $user = array('external_id' => (string) (isset($order['customer_id']) ? $order['customer_id'] : ''));
        foreach (array('email', 'phone', 'first_name', 'last_name', 'city', 'zip', 'country') as $field) {
            if (isset($order[$field]) && trim((string) $order[$field]) !== '') {
                $user[$field] = trim((string) $order[$field]);
            }
        }
        if ($user['external_id'] === '' || $user['external_id'] === '0') {
            unset($user['external_id']);
        }
        $reference = trim((string) $order['reference']);
        $event = array(
            'event_name' => 'Purchase',
            'event_time' => isset($order['event_time']) ? (int) $order['event_time'] : time(),
            'action_source' => 'website',
            'user' => $user,
            'order' => array(
                'reference' => $reference,
                'value' => round((float) $order['value'], 2),
                'currency' => strtoupper((string) $order['currency']),
                'items' => isset($order['items']) ? array_values($order['items']) : array(),
            ),
        );
        if ((string) $prefix !== '') {
            $event['event_id'] = $prefix . $reference;
        }
        if (!empty($order['cart_id'])) {
            $event['cart_id'] = (string) $order['cart_id'];
        }
        if (!empty($order['customer_id'])) {
            $event['customer_id'] = (string) $order['customer_id'];
        }
        if (!empty($order['url'])) {
            $event['event_source_url'] = (string) $order['url'];
        }
        return array('events' => array($event));
    }

    /**
     * POST the payload to {gateway}/v1/events with the API key, $timeout seconds at most.
     * Returns the HTTP status, or 0 when the gateway did not answer. Never throws: the
     * checkout must not wait on or fail with the gateway (the poller is the safety net).
     * A same-origin path gateway (/tr) needs $origin, the shop's own https://host.
     */
    function trackside_push($gateway, $apiKey, array $payload, $timeout = 1.0, $origin = '')
    {
        try {
            $base = trackside_gateway_base($gateway);
            if (strpos($base, '/') === 0) {
                $base = rtrim((string) $origin, '/') . $base;
            }
            if (!preg_match('#^https?://#i', $base) || (string) $apiKey === '') {
                return 0;
            }
            $body = json_encode($payload, JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR);
            $context = stream_context_create(array('http' => array(
                'method' => 'POST',
                'header' => "Content-Type: application/json\r\nAuthorization: Bearer " . $apiKey . "\r\n",
                'content' => (string) $body,
                'timeout' => (float) $timeout,
                'ignore_errors' => true,
            )));
            $status = 0;
            $stream = @fopen($base . '/v1/events', 'rb', false, $context);
            if ($stream !== false) {
                $meta = stream_get_meta_data($stream);
                fclose($stream);
                $headers = isset($meta['wrapper_data']) ? $meta['wrapper_data'] : array();
                foreach ((array) $headers as $line) {
                    if (preg_match('#^HTTP/\S+\s+(\d{3})#', (string) $line, $m)) {
                        $status = (int) $m[1];
                    }
                }
            }
            return $status;
        } catch (\Throwable $e) {
            return 0;
        }
    }
}
